/* Streams: engine sessions and their viewers.
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
 * command, lease released with a reason, one log line. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "acexy/log.h"
#include "dataplane/conn.h"
#include "dataplane/control.h"
#include "dataplane/curl_ev.h"
#include "dataplane/engine_answer.h"
#include "dataplane/query.h"
#include "dataplane/ring.h"

#include "dataplane/stream_int.h"

static void start_playback(struct stream *s, const char *url);
static void ring_account(struct stream *s, size_t held);
static void pump(struct stream *s);
static void pipe_unblock(struct stream *s);
static void play_write_body_ring(struct stream *s, const char *data, size_t len);
static void relay_write(struct viewer *v);
static void relay_all(struct stream *s);
static bool carry_out_pending(struct stream *s);

static double ms_to_s(uint64_t ms)
{
	return (double)ms / 1000.0;
}

static uint64_t cfg_ms(struct stream *s, enum acexy_setting_id id)
{
	return acexy_cfg_u(s->dp->cfg, id);
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

static void set_viewer_count(struct stream *s)
{
	if (s->rec)
		atomic_store(&s->rec->viewers, s->nviewers);
}

/* ---- end of a stream ---- */

/* The engine keeps downloading for a minute or more unless told: always
 * (bounded by a 3 s timeout, retried once). */
static void send_engine_stop(struct stream *s)
{
	if (!s->have_session || !s->ans.command_url[0])
		return;
	s->have_session = false;
	curl_ev_engine_stop(s->w->curl, s->ans.command_url);
}

static void stream_release(struct stream *s)
{
	struct ev_loop *loop = s->w->loop;
	ev_timer_stop(loop, &s->deadline);
	ev_timer_stop(loop, &s->empty_timer);
	ev_timer_stop(loop, &s->grace_timer);
	ev_timer_stop(loop, &s->stall_timer);
	ev_timer_stop(loop, &s->coalesce_timer);
	if (s->api) {
		curl_ev_remove(s->w->curl, s->api);
		curl_easy_cleanup(s->api);
		s->api = NULL;
	}
	upstream_close(&s->up);
	for (int i = 0; i < 2; i++) {
		if (s->pipe[i] >= 0)
			close(s->pipe[i]);
		s->pipe[i] = -1;
	}
	s->pipe_fill = 0;
	if (s->tok) {
		s->tok->s = NULL; /* a late lease is released by the callback */
		s->tok = NULL;
	}
	if (s->ring) {
		atomic_fetch_sub(&s->dp->stats.ring_bytes, ring_memory(s->ring));
		ring_free(s->ring); /* the viewers' readers went with them */
		s->ring = NULL;
	}
	free(s->api_body);
	s->api_body = NULL;
	if (s->hls)
		hls_release(s);
	viewer_query_free(s->q);
	s->q = NULL;
	streams_unlink(s);
}

/* The engine side of an end: stop command, lease, registry, counters. */
static void session_close(struct stream *s, enum dp_end_reason reason)
{
	struct dp *dp = s->dp;
	double dur = dp_now() - s->t_start;
	s->state = S_DONE;
	send_engine_stop(s);
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

/* ---- viewers ---- */

static void on_grace_end(struct ev_loop *loop, ev_timer *t, int revents)
{
	(void)loop;
	(void)revents;
	struct stream *s = t->data;
	if (!s->viewers)
		stream_finish(s, s->last_viewer_reason);
}

/* Takes a viewer off its stream (and closes its connection when asked).
 * The stream ends with its last viewer, at once in per-request mode, after
 * the grace period in multiplex mode. */
void viewer_end(struct viewer *v, enum dp_end_reason reason, bool close_conn)
{
	struct stream *s = v->s;
	for (struct viewer **pp = &s->viewers; *pp; pp = &(*pp)->next) {
		if (*pp == v) {
			*pp = v->next;
			break;
		}
	}
	s->nviewers--;
	ev_timer_stop(s->w->loop, &v->write_timer);
	if (s->ring) {
		size_t held = ring_memory(s->ring);
		ring_reader_detach(v->rd); /* may give chunks back */
		ring_account(s, held);
	} else {
		ring_reader_detach(v->rd);
	}
	struct conn *c = v->c;
	c->viewer = NULL;
	if (s->shared && v->sent_200)
		ALOG(ALOG_INFO, "viewer_left", ALOG_S("content", s->content),
		     ALOG_U("lease", s->lease.lease_id), ALOG_U("bytes", v->bytes_out),
		     ALOG_D("duration_s", dp_now() - v->t_start),
		     ALOG_S("reason", dp_end_reason_name(reason)), ALOG_S("client", c->peer_ip),
		     ALOG_U("viewers_left", s->nviewers));
	if (reason == DP_END_CLIENT_GONE && s->have_lease)
		dp_control_debug_event(s->w, "disconnects",
		                       json_pack("{s:s,s:s,s:I,s:s}", "event", "viewer_gone",
		                                 "instance", s->dp->instance, "lease",
		                                 (json_int_t)s->lease.lease_id, "reason",
		                                 "client_gone"));
	free(v);
	set_viewer_count(s);
	if (close_conn)
		conn_close(c);
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

static void on_write_timeout(struct ev_loop *loop, ev_timer *t, int revents)
{
	(void)loop;
	(void)revents;
	viewer_end(t->data, DP_END_WRITE_TIMEOUT, true);
}

/* The viewer's 200 and its time-to-first-byte. */
static void viewer_send_200(struct viewer *v)
{
	static const char head[] = "HTTP/1.1 200 OK\r\n"
	                           "Server: acexy/" ACEXY_VERSION "\r\n"
	                           "Content-Type: video/mp2t\r\n"
	                           "Cache-Control: no-store\r\n"
	                           "Connection: close\r\n\r\n";
	/* the head is tiny and the socket buffer empty: it goes at once */
	ssize_t n = send(v->c->fd, head, sizeof(head) - 1, MSG_NOSIGNAL);
	(void)n;
	v->sent_200 = true;
	v->c->state = C_STREAM;
	struct dp *dp = v->s->dp;
	atomic_fetch_add(&dp->stats.status[2], 1);
	double ttfb = dp_now() - v->t_start;
	atomic_fetch_add(&dp->stats.ttfb_sum_us, (uint64_t)(ttfb * 1e6));
	atomic_fetch_add(&dp->stats.ttfb_count, 1);
	static const double bounds[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
	for (size_t i = 0; i < sizeof(bounds) / sizeof(bounds[0]); i++)
		if (ttfb <= bounds[i])
			atomic_fetch_add(&dp->stats.ttfb_bucket[i], 1);
	atomic_fetch_add(&dp->stats.ttfb_bucket[11], 1); /* +Inf */
	if (ttfb > 2.0)
		dp_control_debug_event(v->s->w, "stress",
		                       json_pack("{s:s,s:f,s:f,s:I,s:s}", "event",
		                                 "slow_first_byte", "took_ms", ttfb * 1000.0,
		                                 "threshold_ms", 2000.0, "lease",
		                                 (json_int_t)v->s->lease.lease_id, "key",
		                                 viewer_query_key(v->s->q)));
}

void stream_registry_add(struct stream *s)
{
	struct dp_session_info info = {
	        .playback_session_id = s->ans.playback_session_id,
	        .stat_url = s->ans.stat_url,
	        .command_url = s->ans.command_url,
	        .is_live = s->ans.is_live,
	};
	s->rec = dp_registry_add(s->dp, &s->lease, s->w->id, viewer_query_key_type(s->q),
	                         viewer_query_key(s->q), s->engine_desc, &info);
	set_viewer_count(s);
}

/* Coalescing: a paced stream is read about every COALESCE_MS instead of at
 * every packet the engine sends (the fake engine: every 10 ms). The socket's
 * receive low-water mark is set to the bytes the stream brings in that time,
 * measured each second; this timer reads bytes that stay below the mark
 * (the stream slowed down or paused) after COALESCE_CHECK_MS at the latest.
 * The first bytes and the prebuffer burst go at once: the mark is set only
 * after a second of data. */
static void on_coalesce(struct ev_loop *loop, ev_timer *t, int revents)
{
	(void)revents;
	struct stream *s = t->data;
	double now = ev_now(loop);
	if (now - s->rate_t0 >= 1.0) {
		double rate = (double)(s->bytes_in - s->rate_b0) / (now - s->rate_t0);
		s->rate_t0 = now;
		s->rate_b0 = s->bytes_in;
		double mark = rate * COALESCE_MS / 1000.0;
		if (s->pipe_grown && s->pipe_fill == 0 && rate < PIPE_SHRINK_RATE &&
		    fcntl(s->pipe[1], F_SETPIPE_SZ, 64 * 1024) > 0) {
			/* a steady stream again: give the pipe's pages back (they count
			 * against fs.pipe-user-pages-soft for non-root users) */
			s->pipe_cap = (size_t)fcntl(s->pipe[1], F_GETPIPE_SZ);
			s->pipe_grown = false;
		}
		upstream_set_lowat(&s->up, mark > COALESCE_MAX ? COALESCE_MAX
		                           : mark < 1          ? 1
		                                               : (int)mark);
	}
	if (now - s->last_data >= COALESCE_CHECK_MS / 1000.0 && !s->paused && !s->pipe_blocked &&
	    !s->upstream_done && s->state == S_RELAY)
		pump(s); /* last: may end the stream */
}

/* The first stream byte arrived: 200 to every viewer waiting. */
static void session_started(struct stream *s)
{
	s->started = true;
	s->state = S_RELAY;
	s->t_first = dp_now();
	if (!s->hls) {
		s->rate_t0 = ev_now(s->w->loop);
		s->rate_b0 = 0;
		ev_timer_init(&s->coalesce_timer, on_coalesce, COALESCE_CHECK_MS / 1000.0,
		              COALESCE_CHECK_MS / 1000.0);
		s->coalesce_timer.data = s;
		ev_timer_start(s->w->loop, &s->coalesce_timer);
	}
	struct dp *dp = s->dp;
	atomic_fetch_add(&dp->stats.streams_started, 1);
	atomic_fetch_add(&dp->stats.streams_live, 1);
	atomic_fetch_add(&s->w->nstreams, 1);
	stream_registry_add(s);
	for (struct viewer *v = s->viewers; v; v = v->next)
		viewer_send_200(v);
	ALOG(ALOG_INFO, "stream_started", ALOG_S("content", s->content),
	     ALOG_S("engine", s->engine_desc), ALOG_U("lease", s->lease.lease_id),
	     ALOG_D("ttfb_ms", (s->t_first - s->t_start) * 1000), ALOG_U("viewers", s->nviewers),
	     ALOG_B("shared", s->shared));
}

void stream_conn_closing(struct conn *c)
{
	/* the connection dies under its viewer (e.g. viewer gone during setup) */
	if (c->viewer)
		viewer_end(c->viewer, DP_END_CLIENT_GONE, false);
}

/* ---- relay ---- */

/* Data arrived: the empty timeout counts from now. The timer is not moved
 * on every chunk (a heap operation each time); it fires at the old deadline
 * and re-arms itself for what is left (libev's "last activity" pattern). */
static void arm_empty_timer(struct stream *s)
{
	s->last_data = ev_now(s->w->loop);
	if (s->paused) {
		ev_timer_stop(s->w->loop, &s->empty_timer);
		return; /* time paused by backpressure does not count */
	}
	if (!ev_is_active(&s->empty_timer)) {
		ev_timer_set(&s->empty_timer, ms_to_s(cfg_ms(s, ACEXY_S_EMPTY_TIMEOUT)), 0.);
		ev_timer_start(s->w->loop, &s->empty_timer);
	}
}

static void maybe_unpause(struct stream *s)
{
	if (!s->paused || s->upstream_done)
		return;
	size_t space = ring_write_space(s->ring);
	if (space >= SCRATCH_SIZE ||
	    (space > 0 && s->viewers && ring_reader_lag(s->viewers->rd) == 0)) {
		s->paused = false;
		upstream_want(&s->up, true);
		arm_empty_timer(s);
	}
}

/* The ring's memory changed from `held` bytes: keep the gauge in step. */
static void ring_account(struct stream *s, size_t held)
{
	size_t now = ring_memory(s->ring);
	if (now > held)
		atomic_fetch_add(&s->dp->stats.ring_bytes, now - held);
	else if (now < held)
		atomic_fetch_sub(&s->dp->stats.ring_bytes, held - now);
}

static void count_out(struct stream *s, struct viewer *v, size_t n)
{
	v->bytes_out += n;
	s->bytes_out += n;
	if (s->rec)
		atomic_fetch_add(&s->rec->bytes, (uint64_t)n);
	atomic_fetch_add(&s->w->bytes_relayed, (uint64_t)n);
}

/* The viewer's socket is full: wait for writability, within the write
 * timeout. */
static void wait_writable(struct viewer *v)
{
	struct stream *s = v->s;
	ev_io_start(s->w->loop, &v->c->wio);
	if (!ev_is_active(&v->write_timer)) {
		ev_timer_set(&v->write_timer, ms_to_s(cfg_ms(s, ACEXY_S_WRITE_TIMEOUT)), 0.);
		ev_timer_start(s->w->loop, &v->write_timer);
	}
}

/* Pipe -> the viewer's socket, without a copy. False when the viewer ended. */
static bool flush_pipe(struct viewer *v)
{
	struct stream *s = v->s;
	while (s->pipe_fill > 0) {
		ssize_t n = splice(s->pipe[0], NULL, v->c->fd, NULL, s->pipe_fill,
		                   SPLICE_F_NONBLOCK | SPLICE_F_MOVE);
		if (n > 0) {
			s->pipe_fill -= (size_t)n;
			count_out(s, v, (size_t)n);
			ev_timer_stop(s->w->loop, &v->write_timer);
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			wait_writable(v);
			return true;
		}
		viewer_end(v, DP_END_CLIENT_GONE, true);
		return false;
	}
	return true;
}

/* Writes what the viewer has not read yet (the pipe first, then the ring),
 * within the budget. May end the viewer (and with it, in per-request mode,
 * the stream). */
static void relay_write(struct viewer *v)
{
	struct stream *s = v->s;
	struct conn *c = v->c;
	size_t budget = WRITE_BUDGET;
	bool progressed = false;
	if (s->pipe_fill > 0) {
		if (!flush_pipe(v))
			return;
		if (s->pipe_fill > 0)
			return; /* still full: wait for writability */
		pipe_unblock(s);
	}
	while (budget > 0) {
		struct iovec iov[8];
		int n = ring_reader_iov(v->rd, iov, 8, budget);
		if (n <= 0)
			break;
		ssize_t w = writev(c->fd, iov, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			wait_writable(v);
			if (progressed && !s->shared)
				maybe_unpause(s);
			return;
		}
		if (w <= 0) {
			viewer_end(v, DP_END_CLIENT_GONE, true);
			return;
		}
		size_t held = ring_memory(s->ring);
		ring_reader_consume(v->rd, (size_t)w); /* may give chunks back */
		ring_account(s, held);
		count_out(s, v, (size_t)w);
		budget = (size_t)w >= budget ? 0 : budget - (size_t)w;
		progressed = true;
	}
	if (progressed)
		ev_timer_stop(s->w->loop, &v->write_timer);
	if (ring_reader_lag(v->rd) == 0) {
		ev_io_stop(s->w->loop, &c->wio);
		ev_timer_stop(s->w->loop, &v->write_timer);
		if (s->upstream_done) {
			viewer_end(v, s->upstream_ok ? DP_END_UPSTREAM_EOF : DP_END_UPSTREAM_ERROR,
			           true);
			return;
		}
	} else if (budget == 0) {
		/* budget spent, more to send: come back on the next loop turn */
		ev_io_start(s->w->loop, &c->wio);
	}
	if (!s->shared)
		maybe_unpause(s);
}

/* New bytes in the ring: drop the viewers it overran (multiplex), then
 * write to every viewer. An end met on the way (the last viewer gone) is
 * carried out after the loop, so the stream stays valid inside it; s may be
 * freed when this returns. */
static void relay_all(struct stream *s)
{
	if (!s->started)
		return;
	bool outer = s->in_cb;
	s->in_cb = true;
	if (s->shared) {
		struct ring_reader *rd;
		while (s->ring && (rd = ring_first_overrun(s->ring))) {
			struct viewer *v = ring_reader_owner(rd);
			atomic_fetch_add(&s->dp->stats.viewers_dropped, 1);
			ALOG(ALOG_WARN, "viewer_dropped", ALOG_S("content", s->content),
			     ALOG_S("client", v->c->peer_ip),
			     ALOG_S("why", "a whole buffer behind the live edge"));
			viewer_end(v, DP_END_WRITE_TIMEOUT, true);
		}
	}
	struct viewer *v = s->viewers;
	while (v && s->state != S_DONE) {
		struct viewer *next = v->next; /* relay_write may end v */
		if (!ev_is_active(&v->c->wio)) /* a blocked viewer waits for writable */
			relay_write(v);
		v = next;
	}
	s->in_cb = outer;
	if (!outer)
		carry_out_pending(s);
}

void stream_on_viewer_writable(struct conn *c)
{
	if (c->viewer && c->viewer->s->state == S_RELAY)
		relay_write(c->viewer);
	else
		ev_io_stop(c->w->loop, &c->wio);
}

void stream_on_viewer_readable(struct conn *c)
{
	char scratch[4096];
	ssize_t n = recv(c->fd, scratch, sizeof(scratch), 0);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n > 0)
		return; /* a player may send more; it is ignored */
	if (c->viewer)
		viewer_end(c->viewer, DP_END_CLIENT_GONE, true);
	else
		conn_close(c);
}

static void on_empty_timeout(struct ev_loop *loop, ev_timer *t, int revents)
{
	(void)revents;
	struct stream *s = t->data;
	double left = s->last_data + ms_to_s(cfg_ms(s, ACEXY_S_EMPTY_TIMEOUT)) - ev_now(loop);
	if (left > 0.001) {
		ev_timer_set(t, left, 0.);
		ev_timer_start(loop, t);
		return;
	}
	stream_finish(s, DP_END_EMPTY_TIMEOUT);
}

/* ---- playback transfer ---- */

static bool carry_out_pending(struct stream *s)
{
	if (s->pending_status) {
		stream_fail(s, s->pending_status, s->pending_reason, 0);
		return true;
	}
	if (s->pending_end >= 0) {
		stream_finish(s, (enum dp_end_reason)s->pending_end);
		return true;
	}
	return false;
}

static void pause_upstream(struct stream *s)
{
	s->paused = true; /* the viewer is slower than the engine */
	upstream_want(&s->up, false);
	ev_timer_stop(s->w->loop, &s->empty_timer);
}

/* First stream bytes: they must be MPEG-TS; the 200 leaves with them. */
static bool first_data(struct stream *s, const char *data)
{
	if ((unsigned char)data[0] != 0x47) {
		stream_fail(s, 502, "engine answered with a non-stream body", 0);
		return false;
	}
	ev_timer_stop(s->w->loop, &s->deadline);
	session_started(s);
	if (s->state == S_DONE)
		return false;
	if (!s->shared && upstream_can_splice(&s->up) &&
	    pipe2(s->pipe, O_NONBLOCK | O_CLOEXEC) == 0) {
		int cap = fcntl(s->pipe[1], F_GETPIPE_SZ);
		s->pipe_cap = cap > 0 ? (size_t)cap : 4096;
	} else {
		s->pipe[0] = s->pipe[1] = -1; /* the copy path then */
	}
	return true;
}

/* Bytes read from the engine (copy path): straight to a single viewer that
 * keeps up, the rest through the ring to every viewer. The pump never reads
 * more than the ring has room for. */
static void play_write_body(struct stream *s, char *data, size_t len)
{
	if (!s->started && !first_data(s, data))
		return;
	struct viewer *v1 = s->viewers;
	if (!s->shared && v1 && !v1->next && ring_reader_lag(v1->rd) == 0 && s->pipe_fill == 0 &&
	    !ev_is_active(&v1->c->wio)) {
		/* write-through: only what the socket does not take now is copied
		 * into the ring */
		ssize_t w = send(v1->c->fd, data, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w > 0) {
			count_out(s, v1, (size_t)w);
			s->bytes_in += (size_t)w;
			ev_timer_stop(s->w->loop, &v1->write_timer);
			arm_empty_timer(s);
			if ((size_t)w == len)
				return;
			data += w;
			len -= (size_t)w;
		} else if (w == 0 ||
		           (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
			viewer_end(v1, DP_END_CLIENT_GONE, true);
			return;
		}
	}
	play_write_body_ring(s, data, len);
}

/* Bytes for the ring, and from there to the viewers. */
static void play_write_body_ring(struct stream *s, const char *data, size_t len)
{
	size_t held = ring_memory(s->ring);
	ring_write(s->ring, data, len);
	ring_account(s, held);
	s->bytes_in += len;
	arm_empty_timer(s);
	relay_all(s);
}

/* The viewer did not take all of the pipe: stop reading the engine until
 * it does (TCP holds the engine back). A viewer that stays blocked for
 * PIPE_STALL_MS is a stalled one, not just a full socket: the engine is then
 * read into the ring, which absorbs up to ACEXY_BUFFER. */
static void pipe_block(struct stream *s)
{
	s->pipe_blocked = true;
	upstream_want(&s->up, false);
	if (!s->pipe_grown) {
		/* a stream fast enough to fill its pipe gets a larger one, if the
		 * kernel allows (fs.pipe-max-size, fs.pipe-user-pages-soft) */
		s->pipe_grown = true;
		int cap = fcntl(s->pipe[1], F_SETPIPE_SZ, PIPE_GROWN);
		if (cap > 0)
			s->pipe_cap = (size_t)cap;
	}
	ev_timer_set(&s->stall_timer, PIPE_STALL_MS / 1000.0, 0.);
	ev_timer_start(s->w->loop, &s->stall_timer);
}

static void pipe_unblock(struct stream *s)
{
	if (!s->pipe_blocked)
		return;
	s->pipe_blocked = false;
	ev_timer_stop(s->w->loop, &s->stall_timer);
	if (!s->paused && !s->upstream_done)
		upstream_want(&s->up, true);
}

static void on_stall(struct ev_loop *loop, ev_timer *t, int revents)
{
	(void)loop;
	(void)revents;
	pipe_unblock(t->data); /* the pump now reads into the ring */
}

/* The zero-copy path: a per-request stream whose viewer keeps up (nothing
 * in the ring or in the pipe, not waiting for writability). */
static bool pipe_path(struct stream *s)
{
	struct viewer *v = s->viewers;
	return s->started && !s->shared && s->pipe[1] >= 0 && s->pipe_fill == 0 && v && !v->next &&
	       ring_reader_lag(v->rd) == 0 && !ev_is_active(&v->c->wio);
}

/* engine -> pipe (splice, or read past chunk framing and write); then pipe
 * -> viewer. Returns the bytes taken from the engine or an UPSTREAM_ code. */
static ssize_t pump_pipe(struct stream *s)
{
	ssize_t n = upstream_splice(&s->up, s->pipe[1], s->pipe_cap);
	if (n == UPSTREAM_NEED_FRAME) {
		/* past the chunk framing: a few bytes read, their data written */
		char *buf = s->w->scratch;
		n = upstream_read(&s->up, buf, FRAME_READ);
		if (n <= 0)
			return n;
		s->small_chunks = http_body_raw_left(&s->up.body) < SPLICE_MIN_CHUNK;
		ssize_t w = write(s->pipe[1], buf, (size_t)n);
		if (w < 0)
			w = 0;
		s->pipe_fill += (size_t)w;
		s->bytes_in += (size_t)w;
		if (w < n) /* the pipe refused them: the ring takes them */
			play_write_body_ring(s, buf + w, (size_t)(n - w));
	} else if (n > 0) {
		s->pipe_fill += (size_t)n;
		s->bytes_in += (size_t)n;
		atomic_fetch_add_explicit(&s->w->upstream_zcopy, (uint64_t)n, memory_order_relaxed);
	}
	if (n > 0) {
		arm_empty_timer(s);
		if (s->viewers && s->pipe_fill > 0 && flush_pipe(s->viewers) && s->pipe_fill > 0)
			pipe_block(s);
	}
	return n;
}

/* The engine stopped sending: properly (ok) or not. */
static void upstream_ended(struct stream *s, bool ok)
{
	char why[200];
	snprintf(why, sizeof(why), "%s", ok ? "" : upstream_error(&s->up));
	upstream_close(&s->up);
	if (!s->started) {
		char reason[300];
		snprintf(reason, sizeof(reason), "engine closed the stream before any data%s%s%s",
		         ok ? "" : " (", why, ok ? "" : ")");
		stream_fail(s, 502, reason, 0);
		return;
	}
	s->upstream_done = true;
	s->upstream_ok = ok;
	if (!ok) {
		atomic_fetch_add(&s->dp->stats.upstream_errors, 1);
		ALOG(ALOG_WARN, "upstream_error", ALOG_S("content", s->content),
		     ALOG_S("engine", s->engine_desc), ALOG_U("lease", s->lease.lease_id),
		     ALOG_S("error", why));
	}
	if (!s->viewers) {
		stream_finish(s, ok ? DP_END_UPSTREAM_EOF : DP_END_UPSTREAM_ERROR);
		return;
	}
	/* every viewer gets the rest; the last one to finish ends the stream */
	relay_all(s);
}

/* Engine bytes to the viewers, within a budget per event. An end met on the
 * way is carried out at the end; s may be freed when this returns. */
static void pump(struct stream *s)
{
	bool outer = s->in_cb;
	s->in_cb = true;
	size_t budget = WRITE_BUDGET;
	while (budget > 0 && s->state != S_DONE && !s->upstream_done && !s->paused &&
	       !s->pipe_blocked && !s->pending_status && s->pending_end < 0) {
		ssize_t n;
		if (pipe_path(s) && !s->small_chunks) {
			n = pump_pipe(s);
		} else {
			size_t max = SCRATCH_SIZE;
			if (!s->shared && ring_write_space(s->ring) < max)
				max = ring_write_space(s->ring);
			if (max == 0) { /* the ring is full: backpressure */
				pause_upstream(s);
				break;
			}
			n = upstream_read(&s->up, s->w->scratch, max);
			/* chunks much smaller than a read are not worth a pipe */
			s->small_chunks = http_body_raw_left(&s->up.body) < SPLICE_MIN_CHUNK;
			if (n > 0)
				play_write_body(s, s->w->scratch, (size_t)n);
		}
		if (n == 0)
			break;
		if (n < 0) {
			upstream_ended(s, n == UPSTREAM_EOF);
			break;
		}
		atomic_fetch_add_explicit(&s->w->upstream_reads, 1, memory_order_relaxed);
		if (upstream_drained(&s->up))
			break; /* the next batch wakes us (multiplex: not one relay
			        * to every viewer per trickle that came meanwhile) */
		budget = (size_t)n >= budget ? 0 : budget - (size_t)n;
		if (budget == 0)
			upstream_kick(&s->up); /* more may wait: next loop turn */
	}
	s->in_cb = outer;
	if (!outer)
		carry_out_pending(s);
}

static void up_readable(void *ud)
{
	pump(ud);
}

static void up_head(void *ud, const struct http_head *h)
{
	struct stream *s = ud;
	if (h->status >= 300 && h->status < 400 && (h->location[0] || h->location_too_long)) {
		/* followed at once: an engine may trickle the 302 body for seconds */
		upstream_close(&s->up);
		if (++s->redirects > MAX_REDIRECTS) {
			stream_fail(s, 502, "engine redirected too many times", 0);
			return;
		}
		/* resolve a relative Location against the current URL */
		CURLU *u = curl_url();
		char *next = NULL;
		if (u && !h->location_too_long &&
		    curl_url_set(u, CURLUPART_URL, s->play_url, 0) == CURLUE_OK &&
		    curl_url_set(u, CURLUPART_URL, h->location, 0) == CURLUE_OK &&
		    curl_url_get(u, CURLUPART_URL, &next, 0) == CURLUE_OK) {
			char url[2048];
			snprintf(url, sizeof(url), "%s", next);
			curl_free(next);
			curl_url_cleanup(u);
			start_playback(s, url);
			return;
		}
		curl_url_cleanup(u);
		stream_fail(s, 502, "engine redirected to an invalid location", 0);
		return;
	}
	if (h->status != 200) {
		char reason[120];
		snprintf(reason, sizeof(reason),
		         "engine answered the playback request with HTTP %d", h->status);
		upstream_close(&s->up);
		stream_fail(s, 502, reason, 0); /* error bodies are not relayed */
		return;
	}
	upstream_body_start(&s->up);
	pump(s); /* bytes may have come with the head */
}

static void up_failed(void *ud, enum upstream_fail why, const char *msg)
{
	struct stream *s = ud;
	if (why == UPSTREAM_FAIL_TIMEOUT)
		stream_fail(s, 504, "engine did not start the stream in time", 0);
	else if (why == UPSTREAM_FAIL_CONNECT)
		stream_fail(s, 502, "engine unreachable", 0);
	else
		stream_fail(s, 502, msg, 0);
}

static const struct upstream_ops up_ops = {
        .head = up_head,
        .readable = up_readable,
        .failed = up_failed,
};

static void on_first_byte_timeout(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct stream *s = t->data;
	if (!s->started)
		stream_fail(s, 504, "engine sent no stream data in time", 0);
}

static void start_playback(struct stream *s, const char *url)
{
	char err[200];
	snprintf(s->play_url, sizeof(s->play_url), "%s", url);
	if (upstream_open(&s->up, s->w->loop, s->w->curl, s->play_url,
	                  (long)cfg_ms(s, ACEXY_S_NO_RESPONSE_TIMEOUT), &up_ops, s, err,
	                  sizeof(err)) < 0)
		stream_fail(s, 502, err, 0);
}

/* ---- engine API call ---- */

static size_t api_write_cb(char *data, size_t size, size_t n, void *ud)
{
	struct stream *s = ud;
	size_t len = size * n;
	if (s->api_len + len > API_BODY_MAX) {
		s->api_too_big = true;
		return 0;
	}
	memcpy(s->api_body + s->api_len, data, len);
	s->api_len += len;
	return len;
}

static void api_done(void *ud, CURL *easy, CURLcode res)
{
	struct stream *s = ud;
	long code = 0;
	curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &code);
	curl_easy_cleanup(easy);
	s->api = NULL;
	char reason[400];
	if (res == CURLE_OPERATION_TIMEDOUT) {
		snprintf(reason, sizeof(reason), "engine did not answer within %.1fs",
		         ms_to_s(cfg_ms(s, ACEXY_S_NO_RESPONSE_TIMEOUT)));
		stream_fail(s, 504, reason, 0);
		return;
	}
	if (s->api_too_big) {
		stream_fail(s, 502, "engine answer too large", 0);
		return;
	}
	if (res != CURLE_OK) {
		snprintf(reason, sizeof(reason), "engine unreachable: %s", curl_easy_strerror(res));
		stream_fail(s, 502, reason, 0);
		return;
	}
	if (code != 200) {
		snprintf(reason, sizeof(reason), "engine answered HTTP %ld", code);
		stream_fail(s, 502, reason, 0);
		return;
	}
	char why[256];
	if (engine_answer_parse(s->api_body, s->api_len, &s->ans, why, sizeof(why)) < 0) {
		snprintf(reason, sizeof(reason), "engine error: %s", why);
		stream_fail(s, 502, reason, 0);
		return;
	}
	s->have_session = true;
	struct dp_session_info info = {
	        .playback_session_id = s->ans.playback_session_id,
	        .stat_url = s->ans.stat_url,
	        .command_url = s->ans.command_url,
	        .playback_url = s->ans.playback_url,
	        .infohash = s->ans.infohash,
	        .is_live = s->ans.is_live,
	};
	dp_control_session_started(s->w, s->lease.lease_id, &info);
	s->state = S_PLAYBACK;
	ev_timer_stop(s->w->loop, &s->deadline);
	ev_timer_set(&s->deadline, ms_to_s(cfg_ms(s, ACEXY_S_FIRST_BYTE_TIMEOUT)), 0.);
	s->deadline.cb = on_first_byte_timeout;
	ev_timer_start(s->w->loop, &s->deadline);
	if (s->hls)
		hls_after_api(s);
	else
		start_playback(s, s->ans.playback_url);
}

static void start_engine_api(struct stream *s)
{
	char url[4096];
	int n = snprintf(url, sizeof(url), "%s://%s%s%s:%u/ace/%s?", s->lease.scheme,
	                 strchr(s->lease.host, ':') ? "[" : "", s->lease.host,
	                 strchr(s->lease.host, ':') ? "]" : "", s->lease.port,
	                 s->hls ? "manifest.m3u8" : "getstream");
	if (n < 0 || (size_t)n >= sizeof(url) ||
	    viewer_query_engine_query(s->q, s->pid, url + n, sizeof(url) - (size_t)n) < 0) {
		stream_fail(s, 400, "request too long for the engine", 0);
		return;
	}
	snprintf(s->engine_desc, sizeof(s->engine_desc), "%s:%u%s%s", s->lease.host, s->lease.port,
	         s->lease.container_id[0] ? "/" : "", s->lease.container_id);
	s->api_body = malloc(API_BODY_MAX);
	CURL *e = curl_easy_init();
	if (!e || !s->api_body) {
		if (e)
			curl_easy_cleanup(e);
		stream_fail(s, 502, "out of memory", 0);
		return;
	}
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)cfg_ms(s, ACEXY_S_NO_RESPONSE_TIMEOUT));
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, api_write_cb);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, s);
	curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	/* the playback request connects anew (it is ours, not curl's): an idle
	 * kept-alive connection would only wait in the cache, one per stream */
	curl_easy_setopt(e, CURLOPT_FORBID_REUSE, 1L);
	s->state = S_ENGINE_API;
	if (curl_ev_add(s->w->curl, e, api_done, s) < 0) {
		curl_easy_cleanup(e);
		stream_fail(s, 502, "cannot start the engine request", 0);
		return;
	}
	s->api = e;
}

/* ---- controlplane ---- */

static void on_assign(void *ud, int status, const struct dp_lease *lease, const char *reason,
                      unsigned retry_after)
{
	struct assign_token *tok = ud;
	struct stream *s = tok->s;
	free(tok);
	if (!s) {
		/* the viewer left while we waited: give the lease straight back */
		if (status == 0 && lease)
			ALOG(ALOG_INFO, "late_lease_released", ALOG_U("lease", lease->lease_id));
		return;
	}
	s->tok = NULL;
	if (status == 0) {
		s->lease = *lease;
		s->have_lease = true;
		start_engine_api(s);
		return;
	}
	char why[300];
	if (status == -EAGAIN) {
		snprintf(why, sizeof(why), "no engine available: %s", reason ? reason : "refused");
		stream_fail(s, 503, why, retry_after);
	} else {
		stream_fail(s, 503, "controlplane did not answer", retry_after ? retry_after : 5);
	}
}

static void request_lease(struct stream *s)
{
	s->state = S_ASSIGN;
	ev_timer_stop(s->w->loop, &s->deadline);
	s->tok = calloc(1, sizeof(*s->tok));
	if (!s->tok) {
		stream_fail(s, 503, "out of memory", 5);
		return;
	}
	s->tok->s = s;
	uint32_t timeout = (uint32_t)acexy_cfg_u(s->dp->cfg, ACEXY_S_ASSIGN_TIMEOUT) + 2000;
	struct assign_token *tok = s->tok;
	int rc = dp_control_assign(s->w, viewer_query_key_type(s->q), viewer_query_key(s->q),
	                           viewer_query_mux_key(s->q), timeout, on_assign, tok);
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
		request_lease(s);
		return;
	}
	if (dp_now() - s->t_start >= ms_to_s(cfg_ms(s, ACEXY_S_CONTROL_WAIT))) {
		stream_fail(s, 503, "no controlplane available", 5);
		return;
	}
	ev_timer_set(t, 0.05, 0.);
	ev_timer_start(loop, t);
}

/* ---- viewers arriving ---- */

static void head_response(struct conn *c)
{
	/* HEAD: the stream's headers at once, no engine session */
	static const char head[] = "HTTP/1.1 200 OK\r\n"
	                           "Server: acexy/" ACEXY_VERSION "\r\n"
	                           "Content-Type: video/mp2t\r\n"
	                           "Cache-Control: no-store\r\n";
	char extra[64];
	snprintf(extra, sizeof(extra), "Connection: %s\r\n\r\n",
	         c->close_after ? "close" : "keep-alive");
	size_t hl = sizeof(head) - 1, el = strlen(extra);
	free(c->out);
	c->out = malloc(hl + el);
	if (!c->out) {
		conn_close(c);
		return;
	}
	memcpy(c->out, head, hl);
	memcpy(c->out + hl, extra, el);
	c->out_len = hl + el;
	c->out_off = 0;
	c->state = C_RESPONDING;
	atomic_fetch_add(&c->w->dp->stats.status[2], 1);
	ev_io_start(c->w->loop, &c->wio);
}

struct viewer *viewer_add(struct stream *s, struct conn *c)
{
	struct viewer *v = calloc(1, sizeof(*v));
	if (!v)
		return NULL;
	uint64_t pos = 0;
	if (s->started) {
		/* a late joiner starts a little behind the live edge, on a packet
		 * boundary, so the player finds a keyframe soon */
		uint64_t behind = acexy_cfg_u(s->dp->cfg, ACEXY_S_MULTIPLEX_JOIN_BEHIND);
		if (ring_join_pos(s->ring, behind, TS_PACKET, &pos) < 0) {
			free(v);
			return NULL;
		}
	}
	if (ring_reader_attach(s->ring, pos, &v->rd) < 0) {
		free(v);
		return NULL;
	}
	ring_reader_set_owner(v->rd, v);
	v->s = s;
	v->c = c;
	v->t_start = dp_now();
	ev_init(&v->write_timer, on_write_timeout);
	v->write_timer.data = v;
	v->next = s->viewers;
	s->viewers = v;
	s->nviewers++;
	c->viewer = v;
	c->state = C_STREAM; /* reads now only detect the viewer leaving */
	c->close_after = true;
	ev_io_start(c->w->loop, &c->rio);
	ev_timer_stop(s->w->loop, &s->grace_timer);
	set_viewer_count(s);
	return v;
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
	s->pipe[0] = s->pipe[1] = -1;
	snprintf(s->content, sizeof(s->content), "%s:%s", viewer_query_key_type(q),
	         viewer_query_key(q));
	random_pid(s->pid);
	size_t cap = acexy_cfg_u(dp->cfg, ACEXY_S_BUFFER);
	if (ring_new(cap, CHUNK_SIZE, &s->ring) < 0) {
		free(s);
		return NULL;
	}
	if (shared) {
		/* never wait for a slow viewer; keep what late joiners start from */
		size_t retain = acexy_cfg_u(dp->cfg, ACEXY_S_MULTIPLEX_JOIN_BEHIND);
		if (retain < 2 * TS_PACKET)
			retain = 2 * TS_PACKET;
		if (retain > cap)
			retain = cap;
		ring_set_mode(s->ring, RING_DROP_SLOW, retain);
	}
	ev_init(&s->deadline, on_control_wait);
	s->deadline.data = s;
	ev_init(&s->empty_timer, on_empty_timeout);
	s->empty_timer.data = s;
	ev_init(&s->grace_timer, on_grace_end);
	s->grace_timer.data = s;
	ev_init(&s->stall_timer, on_stall);
	s->stall_timer.data = s;
	ev_init(&s->coalesce_timer, on_coalesce);
	s->coalesce_timer.data = s;
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
	if (atomic_load(&dp->stats.conns_open) > acexy_cfg_u(dp->cfg, ACEXY_S_MAX_VIEWERS)) {
		viewer_query_free(q);
		conn_respond_error(c, 503, "viewer limit reached", 10);
		return NULL;
	}
	return q;
}

struct stream *stream_shared_find(struct conn *c, const struct viewer_query *q, bool hls,
                                  const char *raw, bool *handed_over)
{
	struct dp *dp = c->w->dp;
	*handed_over = false;
	if (!acexy_cfg_b(dp->cfg, ACEXY_S_MULTIPLEX))
		return NULL;
	const char *key = viewer_query_mux_key(q);
	char owner_key[QUERY_TEXT_MAX + 8];
	snprintf(owner_key, sizeof(owner_key), "%s|%s", hls ? "hls" : "ts", key);
	unsigned owner = stream_mux_owner(owner_key, dp->nworkers);
	if ((int)owner != c->w->id) {
		/* the content's stream lives on another loop: hand the viewer over */
		conn_handoff(c, &dp->workers[owner], hls ? HANDOFF_HLS : HANDOFF_STREAM, raw);
		*handed_over = true;
		return NULL;
	}
	for (struct stream *x = c->w->streams; x; x = x->next)
		if (x->shared && x->hls == hls && x->state != S_DONE &&
		    strcmp(viewer_query_mux_key(x->q), key) == 0)
			return x;
	return NULL;
}

struct stream *stream_open(struct conn *c, struct viewer_query *q, bool hls)
{
	struct dp *dp = c->w->dp;
	if (atomic_load(&dp->stats.streams_live) >= acexy_cfg_u(dp->cfg, ACEXY_S_MAX_STREAMS)) {
		viewer_query_free(q);
		conn_respond_error(c, 503, "stream limit reached", 10);
		return NULL;
	}
	struct stream *s = stream_new(c->w, q, acexy_cfg_b(dp->cfg, ACEXY_S_MULTIPLEX));
	if (!s) {
		viewer_query_free(q);
		conn_respond_error(c, 503, "out of memory", 5);
		return NULL;
	}
	s->hls = hls;
	if (!viewer_add(s, c)) {
		stream_release(s);
		free(s);
		conn_respond_error(c, 503, "out of memory", 5);
		return NULL;
	}
	return s;
}

void stream_begin(struct conn *c, const char *raw)
{
	struct viewer_query *q = stream_request_query(c, raw);
	if (!q)
		return;
	if (c->head) {
		viewer_query_free(q);
		head_response(c);
		return;
	}
	bool handed_over;
	struct stream *s = stream_shared_find(c, q, false, raw, &handed_over);
	if (handed_over) {
		viewer_query_free(q);
		return;
	}
	if (s) {
		viewer_query_free(q);
		struct viewer *v = viewer_add(s, c);
		if (!v) {
			conn_respond_error(c, 503, "out of memory", 5);
			return;
		}
		if (s->started) {
			viewer_send_200(v);
			relay_write(v);
		}
		return;
	}
	s = stream_open(c, q, false);
	if (s)
		stream_start(s);
}

void stream_start(struct stream *s)
{
	if (dp_control_connected(s->dp)) {
		request_lease(s);
	} else {
		s->state = S_CONTROL_WAIT;
		ev_timer_set(&s->deadline, 0.05, 0.);
		ev_timer_start(s->w->loop, &s->deadline);
	}
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
