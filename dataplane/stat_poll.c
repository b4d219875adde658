#include "dataplane/stat_poll.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acexy/curl_ev.h"
#include "dataplane/dataplane.h"

static size_t on_body(char *d, size_t sz, size_t n, void *ud)
{
	struct stat_poll *p = ud;
	size_t len = sz * n;
	if (p->len + len > STAT_BODY_MAX) {
		p->overflow = true;
		return 0;
	}
	memcpy(p->body + p->len, d, len);
	p->len += len;
	return len;
}

static void arm(struct stat_poll *p, double after)
{
	ev_timer_stop(p->w->loop, &p->timer);
	ev_timer_set(&p->timer, after, 0.);
	ev_timer_start(p->w->loop, &p->timer);
}

static void on_done(void *ud, CURL *easy, CURLcode res)
{
	struct stat_poll *p = ud;
	long code = 0;
	curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &code);
	curl_easy_cleanup(easy);
	p->easy = NULL;
	struct engine_stat st;
	char why[200] = "";
	bool ok = false;
	if (p->overflow)
		snprintf(why, sizeof(why), "stat answer larger than %d bytes", STAT_BODY_MAX);
	else if (res != CURLE_OK)
		snprintf(why, sizeof(why), "stat read failed: %s", curl_easy_strerror(res));
	else if (code != 200)
		snprintf(why, sizeof(why), "stat answered HTTP %ld", code);
	else if (engine_stat_parse(p->body, p->len, &st) < 0)
		snprintf(why, sizeof(why), "stat answer is not the engine's JSON");
	else
		ok = true;
	if (p->active)
		arm(p, p->period);
	/* last: the callback may stop and free the poll */
	p->cb(p->ud, ok, ok ? &st : NULL, why);
}

static void on_timer(struct ev_loop *loop, ev_timer *t, int revents)
{
	(void)loop;
	(void)revents;
	struct stat_poll *p = t->data;
	if (p->easy || !p->active)
		return; /* the last read is still out: its end re-arms */
	if (!p->body && !(p->body = malloc(STAT_BODY_MAX))) {
		arm(p, p->period);
		return;
	}
	CURL *h = curl_easy_init();
	if (!h) {
		arm(p, p->period);
		return;
	}
	p->len = 0;
	p->overflow = false;
	curl_easy_setopt(h, CURLOPT_URL, p->url);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)STAT_READ_TIMEOUT_S * 1000L);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, p);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
	if (curl_ev_add(p->w->curl, h, on_done, p) < 0) {
		curl_easy_cleanup(h);
		arm(p, p->period);
		return;
	}
	p->easy = h;
}

void stat_poll_init(struct stat_poll *p, struct worker *w, stat_poll_fn cb, void *ud)
{
	memset(p, 0, sizeof(*p));
	p->w = w;
	p->cb = cb;
	p->ud = ud;
	ev_init(&p->timer, on_timer);
	p->timer.data = p;
}

void stat_poll_begin(struct stat_poll *p, const char *url, double first, double period)
{
	if (!url || !url[0] || strlen(url) >= sizeof(p->url))
		return;
	snprintf(p->url, sizeof(p->url), "%s", url);
	p->period = period;
	p->active = true;
	arm(p, first);
}

void stat_poll_reschedule(struct stat_poll *p, double next, double period)
{
	if (!p->active)
		return;
	p->period = period;
	if (!p->easy)
		arm(p, next);
}

void stat_poll_stop(struct stat_poll *p)
{
	if (!p->w)
		return;
	p->active = false;
	ev_timer_stop(p->w->loop, &p->timer);
	if (p->easy) {
		curl_ev_remove(p->w->curl, p->easy);
		curl_easy_cleanup(p->easy);
		p->easy = NULL;
	}
	free(p->body);
	p->body = NULL;
}
