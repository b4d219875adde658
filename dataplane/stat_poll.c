#include "dataplane/stat_poll.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acexy/http_fetch.h"
#include "dataplane/dataplane.h"

static void arm(struct stat_poll *p, double after)
{
	ev_timer_stop(p->w->loop, &p->timer);
	ev_timer_set(&p->timer, after, 0.);
	ev_timer_start(p->w->loop, &p->timer);
}

static void on_done(void *ud, const struct http_fetch_result *r)
{
	struct stat_poll *p = ud;
	p->fetch = NULL;
	struct engine_stat st;
	char why[200] = "";
	bool ok = false;
	if (r->too_big)
		snprintf(why, sizeof(why), "stat answer larger than %d bytes", STAT_BODY_MAX);
	else if (r->res != CURLE_OK)
		snprintf(why, sizeof(why), "stat read failed: %s", r->error);
	else if (r->status != 200)
		snprintf(why, sizeof(why), "stat answered HTTP %ld", r->status);
	else if (engine_stat_parse(r->body, r->len, &st) < 0)
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
	if (p->fetch || !p->active)
		return; /* the last read is still out: its end re-arms */
	struct http_fetch_req req = {.url = p->url,
	                             .max = STAT_BODY_MAX,
	                             .timeout_ms = (long)STAT_READ_TIMEOUT_S * 1000L};
	p->fetch = http_fetch_start(p->w->curl, &req, on_done, p);
	if (!p->fetch)
		arm(p, p->period);
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
	if (!p->fetch)
		arm(p, next);
}

void stat_poll_stop(struct stat_poll *p)
{
	if (!p->w)
		return;
	p->active = false;
	ev_timer_stop(p->w->loop, &p->timer);
	http_fetch_cancel(p->fetch);
	p->fetch = NULL;
}
