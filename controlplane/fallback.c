#include "controlplane/fallback.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acexy/clock.h"
#include "acexy/curl_ev.h"
#include "acexy/http_fetch.h"
#include "acexy/log.h"
#include "acexy/settings.h"

#define PROBE_EVERY_S  5.0
#define PROBE_RETRY_S  1.0 /* while unhealthy or unknown */
#define PROBE_TIMEOUT  3000L
#define PROBE_BODY_MAX 16384

struct fallback {
	struct ev_loop *loop;
	struct curl_ev *ce;
	ev_timer timer;
	struct http_fetch *http; /* the probe in flight */
	char url[600];
	enum fb_health health;
	char error[200];
	double checked;
};

const char *fallback_health_name(enum fb_health h)
{
	return h == FB_HEALTHY ? "healthy" : h == FB_UNHEALTHY ? "unhealthy" : "unknown";
}

bool fallback_judge(long http_status, const char *body, char *why, size_t cap)
{
	if (http_status != 200) {
		snprintf(why, cap, "get_version answered HTTP %ld", http_status);
		return false;
	}
	json_error_t jerr;
	json_t *j = json_loads(body ? body : "", JSON_REJECT_DUPLICATES, &jerr);
	if (!j || !json_is_object(j)) {
		snprintf(why, cap, "get_version answer is not a JSON object");
		json_decref(j);
		return false;
	}
	json_t *res = json_object_get(j, "result");
	json_t *err = json_object_get(j, "error");
	bool ok = res && !json_is_null(res);
	if (!ok)
		snprintf(why, cap, "get_version error: %s",
		         json_is_string(err) ? json_string_value(err) : "no result");
	json_decref(j);
	return ok;
}

static void set_health(struct fallback *f, enum fb_health h, const char *why)
{
	if (h != f->health)
		ALOG(h == FB_HEALTHY ? ALOG_INFO : ALOG_WARN, "fallback_engine_health",
		     ALOG_S("url", f->url), ALOG_S("health", fallback_health_name(h)),
		     ALOG_S("was", fallback_health_name(f->health)), ALOG_S("why", why));
	f->health = h;
	snprintf(f->error, sizeof(f->error), "%s", why);
	f->checked = acexy_now();
	ev_timer_set(&f->timer, h == FB_HEALTHY ? PROBE_EVERY_S : PROBE_RETRY_S, 0.);
	ev_timer_start(f->loop, &f->timer);
}

static void on_done(void *ud, const struct http_fetch_result *r)
{
	struct fallback *f = ud;
	f->http = NULL;
	char why[200] = "";
	if (r->too_big || r->res != CURLE_OK)
		snprintf(why, sizeof(why), "%s%s", r->too_big ? "get_version " : "", r->error);
	else if (fallback_judge(r->status, r->body, why, sizeof(why)))
		why[0] = '\0';
	set_health(f, why[0] ? FB_UNHEALTHY : FB_HEALTHY, why);
}

static void on_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	struct fallback *f = w->data;
	if (f->http)
		return;
	struct http_fetch_req req = {.url = f->url,
	                             .max = PROBE_BODY_MAX,
	                             .timeout_ms = PROBE_TIMEOUT,
	                             .connect_timeout_ms = PROBE_TIMEOUT};
	f->http = http_fetch_start(f->ce, &req, on_done, f);
	if (!f->http)
		set_health(f, f->health, "could not start the probe");
}

int fallback_start(struct ev_loop *loop, struct curl_ev *ce, const struct acexy_config *cfg,
                   struct fallback **ret)
{
	struct fallback *f = calloc(1, sizeof(*f));
	if (!f)
		return -ENOMEM;
	f->loop = loop;
	f->ce = ce; /* the controlplane's one curl multi */
	const char *host = acexy_cfg_s(cfg, ACEXY_S_HOST);
	bool v6 = strchr(host, ':') != NULL;
	snprintf(f->url, sizeof(f->url), "%s://%s%s%s:%u/webui/api/service?method=get_version",
	         acexy_cfg_s(cfg, ACEXY_S_SCHEME), v6 ? "[" : "", host, v6 ? "]" : "",
	         (unsigned)acexy_cfg_u(cfg, ACEXY_S_PORT));
	ev_timer_init(&f->timer, on_timer, 0., 0.);
	f->timer.data = f;
	ev_timer_start(loop, &f->timer);
	*ret = f;
	return 0;
}

void fallback_stop(struct fallback *f)
{
	if (!f)
		return;
	ev_timer_stop(f->loop, &f->timer);
	http_fetch_cancel(f->http);
	free(f);
}

enum fb_health fallback_health(const struct fallback *f)
{
	return f ? f->health : FB_UNKNOWN;
}

const char *fallback_error(const struct fallback *f)
{
	return f ? f->error : "";
}

double fallback_checked_at(const struct fallback *f)
{
	return f ? f->checked : 0;
}
