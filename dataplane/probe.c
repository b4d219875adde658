/* GET /ace/probe?id=…: is this content live?
 *
 * A probe is a stream without viewers: it takes a lease and starts an engine
 * session like any stream (stream.c, playback.c), then, instead of opening
 * the playback transfer, reads the session's stat_url every
 * PROBE_STAT_PERIOD until the engine reports playback ("dl"), an error, or
 * ACEXY_PROBE_TIMEOUT passes. The answer is JSON; the session is stopped
 * and the lease released right after it — and when the client hangs up
 * first. In multiplex mode the probe goes to the loop that owns the
 * content's shared TS stream (then its HLS stream): a shared stream found
 * there in any state — waiting for the controlplane or its lease, the
 * engine's answer, prebuffering, playing — is watched instead of opening a
 * second session (whose new pid would supersede the viewers' one,
 * CONTRACTS.md): the probe answers when it plays (its first bytes, or the
 * engine's stat saying "dl"), fails, or at ACEXY_PROBE_TIMEOUT, and leaves
 * the stream alone. A content with no shared stream gets one opened for
 * the probe, which the probe watches like any other: a viewer (or another
 * probe) arriving meanwhile joins it instead of opening a second session
 * (which would supersede the probe's), and once no probe waits on it and
 * no viewer joined it, it ends at once (no grace). At most
 * ACEXY_PROBE_CONCURRENCY probes (own or watching) run at once (503
 * beyond). */
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
	struct probe *next; /* a watcher: the shared stream's other watchers */
	bool watcher;       /* waits on a shared stream it does not own */
	struct conn *c;     /* NULL once answered or gone */
	ev_timer timeout;
	double t0;
	bool have_stat;
	struct engine_stat last;
	char last_why[200];
};

/* Probes running in this process (every worker). */
static _Atomic unsigned probes_running;

static void detach_conn(struct probe *p);
static void watcher_answer(struct probe *p, int status, bool live, const char *error);

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
	if (p->watcher && s->probe_made && !s->have_session) {
		/* its own stream never got an engine session: as a probe's own */
		char why[300];
		snprintf(why, sizeof(why), "no engine session within %.1fs (ACEXY_PROBE_TIMEOUT)",
		         (double)acexy_cfg_u(s->dp->cfg, ACEXY_S_PROBE_TIMEOUT) / 1000.0);
		watcher_answer(p, 504, false, why);
		return;
	}
	if (p->watcher) {
		char why[300];
		snprintf(why, sizeof(why),
		         "the content's shared session is not playing after %.1fs%s%s%s",
		         (double)acexy_cfg_u(s->dp->cfg, ACEXY_S_PROBE_TIMEOUT) / 1000.0,
		         p->have_stat && p->last.status[0] ? " (engine status " : "",
		         p->have_stat && p->last.status[0] ? p->last.status : "",
		         p->have_stat && p->last.status[0] ? ")" : "");
		watcher_answer(p, 200, false, why);
		return;
	}
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
	if (p->watcher)
		watcher_answer(p, 0, false, NULL); /* the shared stream goes on */
	else
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

/* ---- probes watching a shared stream (multiplex) ---- */

/* Answers p (status 0: its client is gone), takes it off its stream's
 * watchers and frees it. */
static void watcher_answer(struct probe *p, int status, bool live, const char *error)
{
	struct stream *s = p->s;
	if (status)
		answer(p, status, live, error, 5);
	for (struct probe **pp = &s->watchers; *pp; pp = &(*pp)->next) {
		if (*pp == p) {
			*pp = p->next;
			break;
		}
	}
	ev_timer_stop(s->w->loop, &p->timeout);
	detach_conn(p);
	atomic_fetch_sub(&probes_running, 1);
	free(p);
	/* a stream opened for probes, now of no use: ended on the next turn
	 * (the caller may still be going through s->watchers) */
	if (s->probe_made && !s->watchers && !s->viewers && s->state != S_DONE &&
	    !ev_is_active(&s->probe_end)) {
		ev_timer_set(&s->probe_end, 0., 0.);
		ev_timer_start(s->w->loop, &s->probe_end);
	}
}

void probe_on_end(struct ev_loop *loop, ev_timer *t, int revents)
{
	(void)loop;
	(void)revents;
	struct stream *s = t->data;
	if (s->probe_made && !s->watchers && !s->viewers && s->state != S_DONE)
		stream_finish(s, DP_END_STOPPED);
}

void probe_watchers_playing(struct stream *s)
{
	while (s->watchers)
		watcher_answer(s->watchers, 200, true, NULL);
}

void probe_watchers_failed(struct stream *s, int status, const char *reason)
{
	/* the engine's fault (502) is the content's answer; others as a probe's own */
	while (s->watchers)
		watcher_answer(s->watchers, status == 502 ? 200 : status, false, reason);
}

void probe_watchers_stat(struct stream *s, const struct engine_stat *st)
{
	if (!st->known || st->empty)
		return; /* the stream's own failure handling decides */
	for (struct probe *p = s->watchers; p; p = p->next) {
		p->last = *st;
		p->have_stat = true;
	}
	if (strcmp(st->status, "dl") == 0) {
		probe_watchers_playing(s);
	} else if (strcmp(st->status, "err") == 0 || strcmp(st->status, "error") == 0) {
		while (s->watchers)
			watcher_answer(s->watchers, 200, false,
			               "the engine reports an error for this content");
	}
}

void probe_watchers_release(struct stream *s)
{
	while (s->watchers)
		watcher_answer(s->watchers, 503, false,
		               "the content's shared session ended before it played");
}

/* p waits on the shared stream s (any state); a playing one answers now. */
static void watch(struct conn *c, struct probe *p, struct stream *s)
{
	struct dp *dp = c->w->dp;
	p->s = s;
	p->c = c;
	p->t0 = dp_now();
	p->watcher = true;
	p->next = s->watchers;
	s->watchers = p;
	if (s->rec) { /* the engine's last word, for the answer */
		pthread_mutex_lock(&dp->reg_mu);
		if (s->rec->stat_at > 0 && s->rec->stat_status[0]) {
			p->have_stat = true;
			p->last.known = true;
			snprintf(p->last.status, sizeof(p->last.status), "%s", s->rec->stat_status);
			p->last.peers = s->rec->stat_peers;
			p->last.speed_down = s->rec->stat_speed_down;
		}
		pthread_mutex_unlock(&dp->reg_mu);
	}
	ev_timer_init(&p->timeout, on_timeout,
	              (double)acexy_cfg_u(dp->cfg, ACEXY_S_PROBE_TIMEOUT) / 1000.0, 0.);
	p->timeout.data = p;
	ev_timer_start(c->w->loop, &p->timeout);
	conn_attach(c, &probe_conn, p);
	ALOG(ALOG_DEBUG, "probe_watching", ALOG_S("content", s->content),
	     ALOG_S("client", c->peer_ip), ALOG_B("playing", s->started), ALOG_B("hls", s->hls));
	if (s->started) /* its viewers get bytes: live, whatever the engine's last word */
		watcher_answer(p, 200, true, NULL);
}

/* ---- the request ---- */

/* stage 0: the first loop; 1: the shared HLS stream's loop; 2: the shared
 * TS stream's loop (multiplex mode; a loop may own both). The TS loop comes
 * last: a content with neither gets the probe's own shared TS stream there,
 * where TS viewers and other probes look for it. */
static void begin(struct conn *c, const char *raw, int stage)
{
	struct dp *dp = c->w->dp;
	struct viewer_query *q = stream_request_query(c, raw);
	if (!q)
		return;
	struct stream *shared = NULL;
	if (acexy_cfg_b(dp->cfg, ACEXY_S_MULTIPLEX)) {
		/* the content's shared stream, in whatever state, on the loop
		 * that owns it: HLS, then TS, else a shared TS stream of its own
		 * on the TS loop */
		if (stage == 0)
			stage = 1;
		for (; stage <= 2 && !shared; stage++) {
			bool hls = stage == 1;
			unsigned owner = stream_shared_owner(dp, q, hls);
			if ((int)owner != c->w->id) {
				viewer_query_free(q);
				conn_handoff(c, &dp->workers[owner],
				             hls ? HANDOFF_PROBE_HLS : HANDOFF_PROBE, raw);
				return;
			}
			shared = stream_shared_lookup(c->w, q, hls);
		}
	}
	uint64_t cap = acexy_cfg_u(dp->cfg, ACEXY_S_PROBE_CONCURRENCY);
	if (atomic_fetch_add(&probes_running, 1) >= cap) {
		atomic_fetch_sub(&probes_running, 1);
		viewer_query_free(q);
		conn_respond_error(c, 503, "probe limit reached (ACEXY_PROBE_CONCURRENCY)", 5);
		return;
	}
	struct probe *p = calloc(1, sizeof(*p));
	if (p && shared) {
		viewer_query_free(q);
		watch(c, p, shared);
		return;
	}
	bool mux = acexy_cfg_b(dp->cfg, ACEXY_S_MULTIPLEX);
	struct stream *s = p ? stream_new(c->w, q, mux) : NULL;
	if (!s) {
		atomic_fetch_sub(&probes_running, 1);
		free(p);
		viewer_query_free(q);
		conn_respond_error(c, 503, "out of memory", 5);
		return;
	}
	if (mux) {
		/* a shared stream of its own that viewers can join */
		s->probe_made = true;
		watch(c, p, s);
		stream_start(s);
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

void probe_begin(struct conn *c, const char *raw)
{
	begin(c, raw, 0);
}

void probe_adopt(struct conn *c, const char *raw, bool hls)
{
	begin(c, raw, hls ? 1 : 2);
}
