/* GET /ace/probe?id=…: is this content live?
 *
 * A probe is a stream without viewers: it takes a lease and starts an engine
 * session like any stream (stream.c, playback.c), then, instead of opening
 * the playback transfer, reads the session's stat_url every
 * PROBE_STAT_PERIOD until the engine reports playback ("dl"), an error, or
 * ACEXY_PROBE_TIMEOUT passes. The answer is JSON; the session is stopped
 * and the lease released right after it — and when the client hangs up
 * first. In multiplex mode a content whose shared session is already
 * running is answered from that session's own stat, without a new one.
 * At most ACEXY_PROBE_CONCURRENCY probes run at once (503 beyond). */
#include <jansson.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acexy/log.h"
#include "dataplane/conn.h"
#include "dataplane/control.h"
#include "dataplane/probe.h"
#include "dataplane/stream_int.h"

struct probe {
	struct stream *s;
	struct conn *c; /* NULL once answered or gone */
	ev_timer timeout;
	double t0;
	bool have_stat;
	struct engine_stat last;
	char last_why[200];
};

/* Probes running in this process (every worker). */
static _Atomic unsigned probes_running;

static void detach_conn(struct probe *p);

/* The answer: status and the JSON body INTERFACE.md names. */
static void answer(struct probe *p, int status, bool live, const char *error, unsigned retry)
{
	struct conn *c = p->c;
	if (!c)
		return;
	detach_conn(p);
	struct stream *s = p->s;
	double took = dp_now() - p->t0;
	bool st = p->have_stat && p->last.known && !p->last.empty;
	json_t *j = json_pack("{s:b,s:o,s:o,s:o,s:o,s:I,s:o}", "live", live, "status",
	                      st && p->last.status[0] ? json_string(p->last.status) : json_null(),
	                      "peers", st ? json_integer(p->last.peers) : json_null(), "speed_down",
	                      st ? json_integer(p->last.speed_down) : json_null(), "engine",
	                      s && s->engine_desc[0] ? json_string(s->engine_desc) : json_null(),
	                      "took_ms", (json_int_t)(took * 1000), "error",
	                      error ? json_string(error) : json_null());
	char *body = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	char extra[64] = "";
	if (status == 503)
		snprintf(extra, sizeof(extra), "Retry-After: %u\r\n", retry ? retry : 5);
	ALOG(ALOG_INFO, "probe_done", ALOG_S("content", s ? s->content : ""),
	     ALOG_S("engine", s ? s->engine_desc : ""), ALOG_I("status", status),
	     ALOG_B("live", live), ALOG_S("engine_status", st ? p->last.status : ""),
	     ALOG_D("took_ms", took * 1000), ALOG_S("error", error ? error : ""));
	c->state = C_READING; /* conn_respond takes over */
	if (!body) {
		conn_respond_error(c, 503, "out of memory", 5);
		return;
	}
	size_t len = strlen(body);
	body[len] = '\0';
	char *nl = realloc(body, len + 2);
	if (nl) {
		body = nl;
		body[len++] = '\n';
		body[len] = '\0';
	}
	conn_respond(c, status, "application/json", extra, body, len);
	free(body);
}

/* The probe answered or its client left: the engine session is stopped and
 * the lease released now (stream_finish frees the stream and the probe). */
static void finish(struct probe *p, enum dp_end_reason reason)
{
	stream_finish(p->s, reason);
}

static void on_timeout(struct ev_loop *loop, ev_timer *t, int revents)
{
	(void)loop;
	(void)revents;
	struct probe *p = t->data;
	struct stream *s = p->s;
	double secs = (double)acexy_cfg_u(s->dp->cfg, ACEXY_S_PROBE_TIMEOUT) / 1000.0;
	char why[300];
	if (!s->have_session) {
		snprintf(why, sizeof(why), "no engine session within %.1fs (ACEXY_PROBE_TIMEOUT)",
		         secs);
		answer(p, 504, false, why, 0);
	} else {
		snprintf(why, sizeof(why), "not playing after %.1fs%s%s%s", secs,
		         p->have_stat && p->last.status[0] ? " (engine status " : "",
		         p->have_stat && p->last.status[0] ? p->last.status : "",
		         p->have_stat && p->last.status[0] ? ")" : "");
		if (!p->have_stat && p->last_why[0])
			snprintf(why + strlen(why), sizeof(why) - strlen(why), " (%s)",
			         p->last_why);
		answer(p, 200, false, why, 0);
	}
	finish(p, DP_END_STOPPED);
}

void probe_on_stat(struct stream *s, const struct engine_stat *st, const char *why)
{
	struct probe *p = s->probe;
	if (!p || !p->c)
		return;
	if (!st) {
		snprintf(p->last_why, sizeof(p->last_why), "%s", why ? why : "stat failed");
		return; /* maybe passing: read again until the timeout */
	}
	if (!st->known) {
		answer(p, 200, false, "the engine dropped the session", 0);
		finish(p, DP_END_STOPPED);
		return;
	}
	if (st->empty)
		return; /* the engine's first answer says nothing yet */
	p->last = *st;
	p->have_stat = true;
	if (strcmp(st->status, "dl") == 0) {
		answer(p, 200, true, NULL, 0);
		finish(p, DP_END_STOPPED);
	} else if (strcmp(st->status, "err") == 0 || strcmp(st->status, "error") == 0) {
		answer(p, 200, false, "the engine reports an error for this content", 0);
		finish(p, DP_END_STOPPED);
	}
}

bool probe_engine_refused(struct stream *s, const char *why)
{
	struct probe *p = s->probe;
	if (!p)
		return false;
	answer(p, 200, false, why, 0);
	finish(p, DP_END_UPSTREAM_ERROR);
	return true;
}

void probe_stream_failed(struct stream *s, int status, const char *reason)
{
	struct probe *p = s->probe;
	if (p)
		answer(p, status, false, reason, 5);
}

void probe_release(struct stream *s)
{
	struct probe *p = s->probe;
	if (!p)
		return;
	ev_timer_stop(s->w->loop, &p->timeout);
	if (p->c)
		answer(p, 503, false, "the probe was stopped", 5);
	s->probe = NULL;
	atomic_fetch_sub(&probes_running, 1);
	free(p);
}

/* ---- the client's connection while the probe runs ---- */

static void on_readable(struct conn *c)
{
	if (conn_peer_left(c))
		conn_close(c);
}

static void on_close(struct conn *c)
{
	struct probe *p = c->handler_data;
	detach_conn(p);
	ALOG(ALOG_INFO, "probe_abandoned", ALOG_S("content", p->s->content),
	     ALOG_S("why", "the client hung up"));
	finish(p, DP_END_CLIENT_GONE);
}

static const struct conn_handlers probe_conn = {
        .on_readable = on_readable,
        .on_writable = NULL,
        .on_close = on_close,
};

static void detach_conn(struct probe *p)
{
	if (!p->c)
		return;
	conn_detach(p->c);
	p->c = NULL;
}

/* ---- the request ---- */

/* Multiplex mode: a running shared session of this content answers at once. */
static bool answer_from_running(struct conn *c, const struct viewer_query *q)
{
	struct dp *dp = c->w->dp;
	char content[sizeof(((struct stream_rec *)0)->content)];
	snprintf(content, sizeof(content), "%s:%s", viewer_query_key_type(q), viewer_query_key(q));
	struct probe tmp = {.c = c, .t0 = dp_now()};
	struct stream fake = {0};
	bool found = false, playing = false;
	pthread_mutex_lock(&dp->reg_mu);
	for (struct stream_rec *r = dp->streams; r; r = r->next) {
		if (strcmp(r->content, content) != 0)
			continue;
		found = true;
		playing = r->playing;
		snprintf(fake.engine_desc, sizeof(fake.engine_desc), "%s", r->engine);
		snprintf(fake.content, sizeof(fake.content), "%s", r->content);
		if (r->stat_at > 0 && r->stat_status[0]) {
			tmp.have_stat = true;
			tmp.last.known = true;
			snprintf(tmp.last.status, sizeof(tmp.last.status), "%s", r->stat_status);
			tmp.last.peers = r->stat_peers;
			tmp.last.speed_down = r->stat_speed_down;
		}
		if (playing)
			break;
	}
	pthread_mutex_unlock(&dp->reg_mu);
	if (!found)
		return false;
	tmp.s = &fake;
	/* its viewers get bytes: live, whatever the engine's last word was */
	answer(&tmp, 200, playing, playing ? NULL : "the running session has not started playing",
	       0);
	return true;
}

void probe_begin(struct conn *c, const char *raw)
{
	struct dp *dp = c->w->dp;
	struct viewer_query *q = stream_request_query(c, raw);
	if (!q)
		return;
	if (acexy_cfg_b(dp->cfg, ACEXY_S_MULTIPLEX) && answer_from_running(c, q)) {
		viewer_query_free(q);
		return;
	}
	uint64_t cap = acexy_cfg_u(dp->cfg, ACEXY_S_PROBE_CONCURRENCY);
	if (atomic_fetch_add(&probes_running, 1) >= cap) {
		atomic_fetch_sub(&probes_running, 1);
		viewer_query_free(q);
		conn_respond_error(c, 503, "probe limit reached (ACEXY_PROBE_CONCURRENCY)", 5);
		return;
	}
	struct probe *p = calloc(1, sizeof(*p));
	struct stream *s = p ? stream_new(c->w, q, false) : NULL;
	if (!s) {
		atomic_fetch_sub(&probes_running, 1);
		free(p);
		viewer_query_free(q);
		conn_respond_error(c, 503, "out of memory", 5);
		return;
	}
	p->s = s;
	p->c = c;
	p->t0 = dp_now();
	s->probe = p;
	ev_timer_init(&p->timeout, on_timeout,
	              (double)acexy_cfg_u(dp->cfg, ACEXY_S_PROBE_TIMEOUT) / 1000.0, 0.);
	p->timeout.data = p;
	ev_timer_start(c->w->loop, &p->timeout);
	conn_attach(c, &probe_conn, p);
	ALOG(ALOG_DEBUG, "probe_started", ALOG_S("content", s->content),
	     ALOG_S("client", c->peer_ip));
	stream_start(s);
}
