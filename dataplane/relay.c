/* The relay: engine bytes on their way to the viewers.
 *
 * Per-request streams go engine -> pipe -> viewer with splice(2) while the
 * viewer keeps up (nothing copied to user space); a blocked viewer stops the
 * engine reads (TCP holds the engine back) and one stalled for PIPE_STALL_MS
 * is served from the ring, which absorbs up to ACEXY_BUFFER. Small chunks
 * and multiplex streams take the copy path: a write-through to a single
 * viewer that keeps up, the rest through the ring to every viewer, each
 * within WRITE_BUDGET per event. The empty timeout, the receive low-water
 * mark (coalescing) and the ring-memory gauge live here too. */
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
#include "dataplane/ring.h"

#include "dataplane/stream_int.h"

static void play_write_body_ring(struct stream *s, const char *data, size_t len);
static void on_coalesce(struct ev_loop *loop, ev_timer *t, int revents);

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

/* The ring's memory changed from `held` bytes: keep the gauge in step. */
void relay_ring_account(struct stream *s, size_t held)
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

void relay_pause(struct stream *s)
{
	s->paused = true; /* the viewer is slower than the engine */
	upstream_want(&s->up, false);
	ev_timer_stop(s->w->loop, &s->empty_timer);
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
bool relay_zero_copy(struct stream *s)
{
	struct viewer *v = s->viewers;
	return s->started && !s->shared && s->pipe[1] >= 0 && s->pipe_fill == 0 && v && !v->next &&
	       ring_reader_lag(v->rd) == 0 && !ev_is_active(&v->c->wio) &&
	       continuity_zero_copy_ready(s);
}

/* engine -> pipe (splice, or read past chunk framing and write); then pipe
 * -> viewer. Returns the bytes taken from the engine or an UPSTREAM_ code. */
ssize_t relay_pump_pipe(struct stream *s)
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
		continuity_piped(s, (size_t)n); /* all of them, the ring's too: raw bytes */
		if (w < n)                      /* the pipe refused them: the ring takes them */
			play_write_body_ring(s, buf + w, (size_t)(n - w));
	} else if (n > 0) {
		s->pipe_fill += (size_t)n;
		s->bytes_in += (size_t)n;
		continuity_piped(s, (size_t)n);
		atomic_fetch_add_explicit(&s->w->upstream_zcopy, (uint64_t)n, memory_order_relaxed);
	}
	if (n > 0) {
		arm_empty_timer(s);
		if (s->viewers && s->pipe_fill > 0 && flush_pipe(s->viewers) && s->pipe_fill > 0)
			pipe_block(s);
	}
	return n;
}

/* Bytes for the ring, and from there to the viewers. */
static void play_write_body_ring(struct stream *s, const char *data, size_t len)
{
	size_t held = ring_memory(s->ring);
	ring_write(s->ring, data, len);
	relay_ring_account(s, held);
	s->bytes_in += len;
	arm_empty_timer(s);
	relay_all(s);
}

/* Bytes read from the engine (copy path): straight to a single viewer that
 * keeps up, the rest through the ring to every viewer. The pump never reads
 * more than the ring has room for. */
void relay_body(struct stream *s, char *data, size_t len)
{
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

/* Writes what the viewer has not read yet (the pipe first, then the ring),
 * within the budget. May end the viewer (and with it, in per-request mode,
 * the stream). */
void relay_write(struct viewer *v)
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
		relay_ring_account(s, held);
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
void relay_all(struct stream *s)
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
		stream_carry_out_pending(s);
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
		playback_pump(s); /* last: may end the stream */
}

void relay_coalesce_start(struct stream *s)
{
	s->rate_t0 = ev_now(s->w->loop);
	s->rate_b0 = 0;
	ev_timer_init(&s->coalesce_timer, on_coalesce, COALESCE_CHECK_MS / 1000.0,
	              COALESCE_CHECK_MS / 1000.0);
	s->coalesce_timer.data = s;
	ev_timer_start(s->w->loop, &s->coalesce_timer);
}

/* Per-request streams whose engine socket can splice get a pipe; the others
 * (and a failed pipe2) take the copy path. */
void relay_pipe_open(struct stream *s)
{
	if (!s->shared && upstream_can_splice(&s->up) &&
	    pipe2(s->pipe, O_NONBLOCK | O_CLOEXEC) == 0) {
		int cap = fcntl(s->pipe[1], F_GETPIPE_SZ);
		s->pipe_cap = cap > 0 ? (size_t)cap : 4096;
	} else {
		s->pipe[0] = s->pipe[1] = -1; /* the copy path then */
	}
}

int relay_init(struct stream *s)
{
	struct dp *dp = s->dp;
	s->pipe[0] = s->pipe[1] = -1;
	size_t cap = acexy_cfg_u(dp->cfg, ACEXY_S_BUFFER);
	if (ring_new(cap, CHUNK_SIZE, &s->ring) < 0)
		return -1;
	if (s->shared) {
		/* never wait for a slow viewer; keep what late joiners start from */
		size_t retain = acexy_cfg_u(dp->cfg, ACEXY_S_MULTIPLEX_JOIN_BEHIND);
		if (retain < 2 * TS_PACKET)
			retain = 2 * TS_PACKET;
		if (retain > cap)
			retain = cap;
		ring_set_mode(s->ring, RING_DROP_SLOW, retain);
	}
	ev_init(&s->empty_timer, on_empty_timeout);
	s->empty_timer.data = s;
	ev_init(&s->stall_timer, on_stall);
	s->stall_timer.data = s;
	ev_init(&s->coalesce_timer, on_coalesce);
	s->coalesce_timer.data = s;
	return 0;
}

void relay_release(struct stream *s)
{
	struct ev_loop *loop = s->w->loop;
	ev_timer_stop(loop, &s->empty_timer);
	ev_timer_stop(loop, &s->stall_timer);
	ev_timer_stop(loop, &s->coalesce_timer);
	for (int i = 0; i < 2; i++) {
		if (s->pipe[i] >= 0)
			close(s->pipe[i]);
		s->pipe[i] = -1;
	}
	s->pipe_fill = 0;
	if (s->ring) {
		atomic_fetch_sub(&s->dp->stats.ring_bytes, ring_memory(s->ring));
		ring_free(s->ring); /* the viewers' readers went with them */
		s->ring = NULL;
	}
}
