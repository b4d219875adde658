/* Streams: an engine session's lifecycle and lease.
 *
 * A stream (engine session) goes
 *   wait for a controlplane (ACEXY_CONTROL_WAIT) -> lease -> engine API call
 *   (format=json, fresh pid, ACEXY_NO_RESPONSE_TIMEOUT) -> playback request
 *   (302 followed at once from the header callback) -> first TS bytes within
 *   ACEXY_FIRST_BYTE_TIMEOUT -> "200" to its viewers + relay through the ring
 *   -> end.
 *
 * Per-request mode (default): one viewer per stream; a slow viewer pauses the
 * engine transfer (backpressure). Multiplex mode (ACEXY_MULTIPLEX): one
 * stream per content (viewer_query_mux_key), owned by the worker the key
 * hashes to: a viewer accepted elsewhere is handed to that worker, so the
 * byte path needs no lock. Viewers read the ring at their own positions;
 * late joiners start ACEXY_MULTIPLEX_JOIN_BEHIND behind the live edge on a
 * 188-byte boundary; a viewer a whole ring behind is dropped (counted)
 * without slowing anyone; the stream outlives its last viewer by
 * ACEXY_MULTIPLEX_GRACE.
 *
 * Before the first stream byte every failure is a status with a reason; the
 * 200 leaves together with the first bytes. On every end: engine stop
 * command, lease released with a reason, one log line.
 *
 * This file owns the lifecycle (control wait, lease, start, end and the
 * multiplex grace period); playback.c the engine call and transfer, relay.c
 * the bytes' way to the viewers, viewer.c the viewers (stream_int.h). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "acexy/curl_ev.h"
#include "acexy/engine_stop.h"
#include "acexy/log.h"
#include "dataplane/access.h"
#include "dataplane/conn.h"
#include "dataplane/control.h"
#include "dataplane/query.h"

#include "dataplane/stream_int.h"

static void random_pid(char *out);

void stream_new_pid(struct stream *s)
{
	random_pid(s->pid);
}

static void random_pid(char *out)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char b[16];
	int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
	ssize_t n = fd >= 0 ? read(fd, b, sizeof(b)) : -1;
	if (fd >= 0)
		close(fd);
	if (n != (ssize_t)sizeof(b)) {
		for (size_t i = 0; i < sizeof(b); i++)
			b[i] = (unsigned char)(rand() & 0xff);
	}
	for (size_t i = 0; i < sizeof(b); i++) {
		out[2 * i] = hex[b[i] >> 4];
		out[2 * i + 1] = hex[b[i] & 15];
	}
	out[32] = '\0';
}

static void streams_unlink(struct stream *s)
{
	for (struct stream **pp = &s->w->streams; *pp; pp = &(*pp)->next) {
		if (*pp == s) {
			*pp = s->next;
			return;
		}
	}
}

/* The engine keeps downloading for a minute or more unless told: always
 * (bounded by a 3 s timeout, retried once). */
void stream_engine_stop(struct stream *s)
{
	if (!s->have_session || !s->ans.command_url[0])
		return;
	s->have_session = false;
	engine_stop_send(s->w->curl, s->ans.command_url);
}

static void stream_release(struct stream *s)
{
	ev_timer_stop(s->w->loop, &s->deadline);
	ev_timer_stop(s->w->loop, &s->grace_timer);
	continuity_release(s);
	playback_release(s);
	relay_release(s);
	if (s->tok) {
		s->tok->s = NULL; /* a late lease is released by the callback */
		s->tok = NULL;
	}
	if (s->hls)
		hls_release(s);
	stat_poll_stop(&s->stat);
	if (s->probe)
		probe_release(s);
	if (s->watchers)
		probe_watchers_release(s);
	ev_timer_stop(s->w->loop, &s->probe_end); /* (after the watchers' answers) */
	viewer_query_free(s->q);
	s->q = NULL;
	streams_unlink(s);
	if (s->counted_open) {
		atomic_fetch_sub(&s->dp->stats.streams_open, 1);
		s->counted_open = false;
	}
}

/* The engine side of an end: stop command, lease, registry, counters. */
static void session_close(struct stream *s, enum dp_end_reason reason)
{
	struct dp *dp = s->dp;
	double dur = dp_now() - s->t_start;
	s->state = S_DONE;
	stream_engine_stop(s);
	if (s->have_lease) {
		dp_control_stream_ended(s->w, &s->lease, s->ans.playback_session_id, reason,
		                        s->bytes_out, (uint64_t)(dur * 1000));
		s->have_lease = false;
	}
	if (s->rec) {
		dp_registry_remove(dp, s->rec);
		s->rec = NULL;
	}
	if (s->started) {
		atomic_fetch_sub(&dp->stats.streams_live, 1);
		atomic_fetch_sub(&s->w->nstreams, 1);
		atomic_fetch_add(&dp->stats.ended[reason], 1);
		ALOG(ALOG_INFO, "stream_ended", ALOG_S("content", s->content),
		     ALOG_S("engine", s->engine_desc), ALOG_U("lease", s->lease.lease_id),
		     ALOG_U("bytes", s->bytes_out), ALOG_D("duration_s", dur),
		     ALOG_S("reason", dp_end_reason_name(reason)), ALOG_B("shared", s->shared));
	}
}

/* Ends the stream for `reason`: the engine session is stopped, the lease
 * released, one log line written, and every viewer connection closed. */
void stream_finish(struct stream *s, enum dp_end_reason reason)
{
	if (s->state == S_DONE)
		return;
	if (s->in_cb) {
		if (s->pending_end < 0 && !s->pending_status)
			s->pending_end = (int)reason;
		return;
	}
	session_close(s, reason);
	while (s->viewers)
		viewer_end(s->viewers, reason, true);
	stream_release(s);
	free(s);
}

void stream_end_with(struct stream *s, enum dp_end_reason reason)
{
	if (!s->started) {
		int status =
		        reason == DP_END_SHUTDOWN || reason == DP_END_DRAIN_TIMEOUT ? 503 : 502;
		stream_fail(s, status, "stream stopped before it started", 5);
		return;
	}
	stream_finish(s, reason);
}

/* Before the first byte: answer every viewer with a status and a reason. */
void stream_fail(struct stream *s, int status, const char *reason, unsigned retry_after)
{
	if (s->state == S_DONE)
		return;
	if (s->in_cb) {
		if (s->pending_end < 0 && !s->pending_status) {
			s->pending_status = status;
			snprintf(s->pending_reason, sizeof(s->pending_reason), "%.299s", reason);
		}
		return;
	}
	if (s->started && continuity_on_fail(s, status, reason))
		return; /* a failover goes on (or begins) */
	if (s->probe)
		probe_stream_failed(s, status, reason);
	if (s->watchers)
		probe_watchers_failed(s, status, reason);
	ALOG(ALOG_WARN, "stream_failed", ALOG_S("content", s->content), ALOG_I("status", status),
	     ALOG_S("reason", reason), ALOG_S("engine", s->engine_desc),
	     ALOG_U("viewers", s->nviewers));
	if (status == 502 || status == 504)
		atomic_fetch_add(&s->dp->stats.upstream_errors, 1);
	char why[300]; /* the reason may live in the stream freed below */
	snprintf(why, sizeof(why), "%.299s", reason);
	session_close(s, DP_END_UPSTREAM_ERROR);
	while (s->viewers) {
		struct viewer *v = s->viewers;
		struct conn *c = v->c;
		bool answered = v->sent_200;
		viewer_end(v, DP_END_UPSTREAM_ERROR, answered);
		if (!answered) {
			c->state = C_READING; /* conn_respond takes over */
			c->close_after = true;
			conn_respond_error(c, status, why, retry_after);
		}
	}
	stream_release(s);
	free(s);
}

bool stream_carry_out_pending(struct stream *s)
{
	if (s->pending_status) {
		char why[sizeof(s->pending_reason)];
		int status = s->pending_status;
		snprintf(why, sizeof(why), "%s", s->pending_reason);
		s->pending_status = 0; /* a failover may keep the stream */
		stream_fail(s, status, why, 0);
		return true;
	}
	if (s->pending_end >= 0) {
		stream_finish(s, (enum dp_end_reason)s->pending_end);
		return true;
	}
	return false;
}

void stream_registry_add(struct stream *s)
{
	if (s->started && s->watchers) /* TS or HLS: its viewers get their answers */
		probe_watchers_playing(s);
	if (s->rec && s->rec_stale) {
		/* a failover's new session: the record kept through the switch
		 * makes way for the new lease's */
		dp_registry_remove(s->dp, s->rec);
		s->rec = NULL;
		s->rec_stale = false;
	}
	if (s->rec) {
		atomic_store(&s->rec->failovers, s->failovers);
		if (s->started) {
			dp_registry_set_playing(s->dp, s->rec);
			stat_poll_reschedule(&s->stat, 0.2, STAT_PERIOD_PLAYING);
		}
		return;
	}
	struct dp_session_info info = {
	        .playback_session_id = s->ans.playback_session_id,
	        .stat_url = s->ans.stat_url,
	        .command_url = s->ans.command_url,
	        .is_live = s->ans.is_live,
	};
	s->rec = dp_registry_add(s->dp, &s->lease, s->w->id, viewer_query_key_type(s->q),
	                         viewer_query_key(s->q), s->engine_desc, &info);
	if (s->rec)
		atomic_store(&s->rec->failovers, s->failovers);
	stream_set_viewer_count(s);
	if (s->started)
		dp_registry_set_playing(s->dp, s->rec);
}

/* What the engine says about the session: shown per stream; a probe
 * decides with it. */
static void stream_on_stat(void *ud, bool ok, const struct engine_stat *st, const char *why)
{
	struct stream *s = ud;
	if (s->probe) {
		probe_on_stat(s, ok ? st : NULL, why);
		return;
	}
	dp_registry_set_stat(s->dp, s->rec, ok ? st : NULL, why);
	if (ok && s->watchers)
		probe_watchers_stat(s, st);
	if (ok && st->empty) /* the engine's first answer says nothing: ask again soon */
		stat_poll_reschedule(&s->stat, STAT_PERIOD_PREBUF, s->stat.period);
}

void stream_watch_engine(struct stream *s)
{
	if (s->probe) {
		stat_poll_begin(&s->stat, s->ans.stat_url, 0., PROBE_STAT_PERIOD);
		return;
	}
	stream_registry_add(s); /* prebuffering: visible from now on */
	stat_poll_begin(&s->stat, s->ans.stat_url, 0.2,
	                s->started ? STAT_PERIOD_PLAYING : STAT_PERIOD_PREBUF);
}

void stream_started(struct stream *s)
{
	s->started = true;
	s->state = S_RELAY;
	s->t_first = dp_now();
	if (!s->hls)
		relay_coalesce_start(s);
	struct dp *dp = s->dp;
	atomic_fetch_add(&dp->stats.streams_started, 1);
	atomic_fetch_add(&dp->stats.streams_live, 1);
	atomic_fetch_add(&s->w->nstreams, 1);
	stream_registry_add(s);
	if (continuity_init(s) < 0)
		ALOG(ALOG_WARN, "continuity_off", ALOG_S("content", s->content),
		     ALOG_S("why", "out of memory"));
	continuity_started(s);
	for (struct viewer *v = s->viewers; v; v = v->next)
		viewer_send_200(v);
	ALOG(ALOG_INFO, "stream_started", ALOG_S("content", s->content),
	     ALOG_S("engine", s->engine_desc), ALOG_U("lease", s->lease.lease_id),
	     ALOG_D("ttfb_ms", (s->t_first - s->t_start) * 1000), ALOG_U("viewers", s->nviewers),
	     ALOG_B("shared", s->shared));
	if (!s->viewers) /* everyone left while it started (shared): the grace, now */
		stream_viewer_left(s, s->last_viewer_reason);
}

static void on_assign(void *ud, int status, const struct dp_lease *lease, const char *reason,
                      unsigned retry_after)
{
	struct assign_token *tok = ud;
	struct stream *s = tok->s;
	struct worker *w = tok->w;
	free(tok);
	if (!s) {
		/* the viewer left while we waited: give the lease straight back */
		if (status == 0 && lease) {
			ALOG(ALOG_INFO, "late_lease_released", ALOG_U("lease", lease->lease_id));
			dp_control_stream_ended(w, lease, "", DP_END_CLIENT_GONE, 0, 0);
		}
		return;
	}
	s->tok = NULL;
	if (status == 0) {
		continuity_lease_granted(s);
		s->lease = *lease;
		if (s->rec && s->failing_over) { /* kept through the switch */
			dp_registry_set_lease(s->dp, s->rec, s->lease.lease_id);
			s->rec_stale = true;
		}
		s->have_lease = true;
		playback_engine_call(s);
		return;
	}
	char why[300];
	if (status == -ENOTCONN && !s->started &&
	    dp_now() - s->t_start < ms_to_s(cfg_ms(s, ACEXY_S_CONTROL_WAIT))) {
		/* the controlplane is reconnecting: wait for it as for an
		 * absent one (ACEXY_CONTROL_WAIT), then ask again */
		s->state = S_CONTROL_WAIT;
		ev_timer_set(&s->deadline, 0.05, 0.);
		ev_timer_start(s->w->loop, &s->deadline);
		return;
	}
	if (status == -EAGAIN) {
		snprintf(why, sizeof(why), "no engine available: %s", reason ? reason : "refused");
		stream_fail(s, 503, why, retry_after);
	} else {
		stream_fail(s, 503, "controlplane did not answer", retry_after ? retry_after : 5);
	}
}

void stream_request_lease(struct stream *s, const char *avoid)
{
	s->state = S_ASSIGN;
	ev_timer_stop(s->w->loop, &s->deadline);
	s->tok = calloc(1, sizeof(*s->tok));
	if (!s->tok) {
		stream_fail(s, 503, "out of memory", 5);
		return;
	}
	s->tok->s = s;
	s->tok->w = s->w;
	uint32_t timeout = (uint32_t)acexy_cfg_u(s->dp->cfg, ACEXY_S_ASSIGN_TIMEOUT) + 2000;
	struct assign_token *tok = s->tok;
	int rc = dp_control_assign(s->w, viewer_query_key_type(s->q), viewer_query_key(s->q),
	                           viewer_query_mux_key(s->q), avoid, timeout, on_assign, tok);
	if (rc < 0) {
		s->tok = NULL;
		free(tok);
		stream_fail(s, 503, "controlplane unavailable", 5);
	}
}

static void on_control_wait(struct ev_loop *loop, ev_timer *t, int revents)
{
	(void)revents;
	struct stream *s = t->data;
	if (dp_control_connected(s->dp)) {
		stream_request_lease(s, NULL);
		return;
	}
	if (dp_now() - s->t_start >= ms_to_s(cfg_ms(s, ACEXY_S_CONTROL_WAIT))) {
		stream_fail(s, 503, "no controlplane available", 5);
		return;
	}
	ev_timer_set(t, 0.05, 0.);
	ev_timer_start(loop, t);
}

static void on_grace_end(struct ev_loop *loop, ev_timer *t, int revents)
{
	(void)loop;
	(void)revents;
	struct stream *s = t->data;
	if (s->viewers)
		return;
	/* Still starting (lease, engine call, prebuffer): the engine session
	 * is being opened whether or not anyone waits. Ending it now would
	 * make the next viewer open a second session for the same content
	 * while this one is still coming up (and, with the engine call in
	 * flight, used to leave that one running). It goes on; a viewer who
	 * comes back joins it; stream_started looks again. */
	if (!s->started)
		return;
	stream_finish(s, s->last_viewer_reason);
}

void stream_viewer_left(struct stream *s, enum dp_end_reason reason)
{
	if (s->viewers || s->state == S_DONE)
		return;
	if (s->hls && s->started)
		return; /* HLS: requests come and go; the idle timer ends it */
	s->last_viewer_reason = reason;
	if (!s->shared || s->upstream_done) {
		stream_finish(s, reason);
		return;
	}
	ev_timer_stop(s->w->loop, &s->grace_timer);
	ev_timer_set(&s->grace_timer, ms_to_s(cfg_ms(s, ACEXY_S_MULTIPLEX_GRACE)), 0.);
	ev_timer_start(s->w->loop, &s->grace_timer);
}

void stream_start(struct stream *s)
{
	if (dp_control_connected(s->dp)) {
		stream_request_lease(s, NULL);
	} else {
		s->state = S_CONTROL_WAIT;
		ev_timer_set(&s->deadline, 0.05, 0.);
		ev_timer_start(s->w->loop, &s->deadline);
	}
}

struct stream *stream_new(struct worker *w, struct viewer_query *q, bool shared)
{
	struct dp *dp = w->dp;
	struct stream *s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->w = w;
	s->dp = dp;
	s->q = q;
	s->shared = shared;
	s->t_start = dp_now();
	s->pending_end = -1;
	upstream_init(&s->up);
	snprintf(s->content, sizeof(s->content), "%s:%s", viewer_query_key_type(q),
	         viewer_query_key(q));
	random_pid(s->pid);
	if (relay_init(s) < 0) {
		free(s);
		return NULL;
	}
	stat_poll_init(&s->stat, w, stream_on_stat, s);
	ev_init(&s->deadline, on_control_wait);
	s->deadline.data = s;
	ev_init(&s->grace_timer, on_grace_end);
	s->grace_timer.data = s;
	ev_init(&s->probe_end, probe_on_end);
	s->probe_end.data = s;
	s->next = w->streams;
	w->streams = s;
	return s;
}

unsigned stream_mux_owner(const char *key, int nworkers)
{
	uint32_t h = 2166136261u;
	for (const unsigned char *p = (const unsigned char *)key; *p; p++)
		h = (h ^ *p) * 16777619u;
	return nworkers > 0 ? h % (unsigned)nworkers : 0;
}

/* The viewer's query, or NULL when the request was answered. */
struct viewer_query *stream_request_query(struct conn *c, const char *raw)
{
	char err[300];
	struct viewer_query *q = NULL;
	if (viewer_query_parse(raw, strlen(raw), &q, err, sizeof(err)) < 0) {
		c->close_after = true;
		conn_respond_error(c, 400, err, 0);
		return NULL;
	}
	struct dp *dp = c->w->dp;
	if (atomic_load(&dp->draining)) {
		viewer_query_free(q);
		conn_respond_error(c, 503, "draining", 10);
		return NULL;
	}
	if (!access_take_viewer(c)) {
		viewer_query_free(q);
		conn_respond_error(c, 503, "viewer limit reached", 10);
		return NULL;
	}
	if (viewer_query_dropped_ids(q))
		ALOG(ALOG_DEBUG, "viewer_ids_dropped", ALOG_U("count", viewer_query_dropped_ids(q)),
		     ALOG_S("client", c->peer_ip),
		     ALOG_S("why", "the proxy gives each engine session its own pid"));
	return q;
}

unsigned stream_shared_owner(struct dp *dp, const struct viewer_query *q, bool hls)
{
	char owner_key[QUERY_TEXT_MAX + 8];
	snprintf(owner_key, sizeof(owner_key), "%s|%s", hls ? "hls" : "ts",
	         viewer_query_mux_key(q));
	return stream_mux_owner(owner_key, dp->nworkers);
}

struct stream *stream_shared_lookup(struct worker *w, const struct viewer_query *q, bool hls)
{
	const char *key = viewer_query_mux_key(q);
	for (struct stream *x = w->streams; x; x = x->next)
		if (x->shared && x->hls == hls && x->state != S_DONE &&
		    strcmp(viewer_query_mux_key(x->q), key) == 0)
			return x;
	return NULL;
}

/* Multiplex mode: this content's TS or HLS stream on this loop, or NULL; a
 * request for a stream another loop owns is handed there (*handed_over). */
static struct stream *shared_find(struct conn *c, const struct viewer_query *q, bool hls,
                                  const char *raw, bool *handed_over)
{
	struct dp *dp = c->w->dp;
	*handed_over = false;
	if (!acexy_cfg_b(dp->cfg, ACEXY_S_MULTIPLEX))
		return NULL;
	unsigned owner = stream_shared_owner(dp, q, hls);
	if ((int)owner != c->w->id) {
		/* the content's stream lives on another loop: hand the viewer over */
		conn_handoff(c, &dp->workers[owner], hls ? HANDOFF_HLS : HANDOFF_STREAM, raw);
		*handed_over = true;
		return NULL;
	}
	return stream_shared_lookup(c->w, q, hls);
}

bool stream_admit(struct conn *c, const char *raw, bool hls, void (*head)(struct conn *c),
                  struct viewer_query **q, struct stream **join)
{
	*join = NULL;
	*q = stream_request_query(c, raw);
	if (!*q)
		return false;
	bool is_head = c->head, handed_over = false; /* c is gone once handed over */
	if (is_head)
		head(c);
	else
		*join = shared_find(c, *q, hls, raw, &handed_over);
	if (is_head || handed_over || *join) {
		viewer_query_free(*q);
		*q = NULL;
	}
	return !is_head && !handed_over;
}

struct stream *stream_open(struct conn *c, struct viewer_query *q, bool hls)
{
	struct dp *dp = c->w->dp;
	/* streams still starting count too: a burst of requests cannot open
	 * more engine sessions than the limit while none has its first byte */
	uint64_t max = acexy_cfg_u(dp->cfg, ACEXY_S_MAX_STREAMS);
	if (atomic_fetch_add(&dp->stats.streams_open, 1) >= max) {
		atomic_fetch_sub(&dp->stats.streams_open, 1);
		viewer_query_free(q);
		conn_respond_error(c, 503, "stream limit reached", 10);
		return NULL;
	}
	struct stream *s = stream_new(c->w, q, acexy_cfg_b(dp->cfg, ACEXY_S_MULTIPLEX));
	if (!s) {
		atomic_fetch_sub(&dp->stats.streams_open, 1);
		viewer_query_free(q);
		conn_respond_error(c, 503, "out of memory", 5);
		return NULL;
	}
	s->counted_open = true;
	s->hls = hls;
	if (!viewer_add(s, c)) {
		stream_release(s);
		free(s);
		conn_respond_error(c, 503, "out of memory", 5);
		return NULL;
	}
	return s;
}

void worker_stop_lease(struct worker *w, uint64_t lease_id, enum dp_end_reason reason)
{
	for (struct stream *s = w->streams; s; s = s->next) {
		if (s->have_lease && s->lease.lease_id == lease_id) {
			stream_end_with(s, reason);
			return;
		}
	}
}

void worker_end_streams(struct worker *w, enum dp_end_reason reason)
{
	while (w->streams)
		stream_end_with(w->streams, reason);
}
