/* Viewers of a stream: a TS request joining (or starting) its stream, the
 * 200 with its time-to-first-byte, the viewer's connection while it watches
 * (conn_handlers), and its leaving. Per-request mode: one viewer per stream.
 * Multiplex mode: a late joiner starts at the latest random access point
 * within ACEXY_MULTIPLEX_JOIN_BEHIND (PAT, PMT, keyframe: continuity.c
 * indexes them), else that far behind the live edge on a 188-byte boundary. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "acexy/log.h"
#include "dataplane/conn.h"
#include "dataplane/control.h"
#include "dataplane/query.h"
#include "dataplane/ring.h"

#include "dataplane/stream_int.h"

static void on_write_timeout(struct ev_loop *loop, ev_timer *t, int revents)
{
	(void)loop;
	(void)revents;
	viewer_end(t->data, DP_END_WRITE_TIMEOUT, true);
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
		relay_ring_account(s, held);
	} else {
		ring_reader_detach(v->rd);
	}
	struct conn *c = v->c;
	conn_detach(c);
	if (s->shared && v->sent_200)
		ALOG(ALOG_INFO, "viewer_left", ALOG_S("content", s->content),
		     ALOG_U("lease", s->lease.lease_id), ALOG_U("bytes", v->bytes_out),
		     ALOG_D("duration_s", dp_now() - v->t_start),
		     ALOG_S("reason", dp_end_reason_name(reason)), ALOG_S("client", c->peer_ip),
		     ALOG_U("viewers_left", s->nviewers));
	if (reason == DP_END_CLIENT_GONE && s->have_lease)
		dp_control_debug_event(s->w, DEBUGLOG_DISCONNECTS,
		                       json_pack("{s:s,s:s,s:I,s:s}", "event", "viewer_gone",
		                                 "instance", s->dp->instance, "lease",
		                                 (json_int_t)s->lease.lease_id, "reason",
		                                 "client_gone"));
	free(v);
	stream_set_viewer_count(s);
	if (close_conn)
		conn_close(c);
	stream_viewer_left(s, reason);
}

/* The viewer's 200 and its time-to-first-byte. */
void viewer_send_200(struct viewer *v)
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
	dp_hist_observe(&dp->stats.ttfb, dp_ttfb_bounds, ttfb);
	if (ttfb > 2.0)
		dp_control_debug_event(v->s->w, DEBUGLOG_STRESS,
		                       json_pack("{s:s,s:f,s:f,s:I,s:s}", "event",
		                                 "slow_first_byte", "took_ms", ttfb * 1000.0,
		                                 "threshold_ms", 2000.0, "lease",
		                                 (json_int_t)v->s->lease.lease_id, "key",
		                                 viewer_query_key(v->s->q)));
}

/* ---- the viewer's connection (conn.c calls these) ---- */

static void viewer_conn_readable(struct conn *c)
{
	if (conn_peer_left(c))
		viewer_end(c->handler_data, DP_END_CLIENT_GONE, true);
}

static void viewer_conn_writable(struct conn *c)
{
	struct viewer *v = c->handler_data;
	if (v->s->state == S_RELAY)
		relay_write(v);
	else
		ev_io_stop(c->w->loop, &c->wio);
}

static void viewer_conn_closing(struct conn *c)
{
	/* the connection dies under its viewer (e.g. viewer gone during setup) */
	viewer_end(c->handler_data, DP_END_CLIENT_GONE, false);
}

static const struct conn_handlers viewer_conn = {
        .on_readable = viewer_conn_readable,
        .on_writable = viewer_conn_writable,
        .on_close = viewer_conn_closing,
};

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
		/* a late joiner starts at the latest PAT + PMT + keyframe within
		 * reach (the ring's index: no scan), else a little behind the live
		 * edge on a packet boundary */
		uint64_t behind = acexy_cfg_u(s->dp->cfg, ACEXY_S_MULTIPLEX_JOIN_BEHIND);
		if (ring_join_rap(s->ring, behind, &pos) < 0 &&
		    ring_join_pos(s->ring, behind, TS_PACKET, &pos) < 0) {
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
	conn_attach(c, &viewer_conn, v); /* reads now only detect the viewer leaving */
	v->keep_alive = !c->close_after;
	c->close_after = true;
	ev_io_start(c->w->loop, &c->rio);
	ev_timer_stop(s->w->loop, &s->grace_timer);
	/* opened for a probe: a viewer's stream from now on (counted without
	 * refusing the viewer: the session is there already) */
	if (s->probe_made) {
		s->probe_made = false;
		if (!s->counted_open) {
			atomic_fetch_add(&s->dp->stats.streams_open, 1);
			s->counted_open = true;
		}
	}
	stream_set_viewer_count(s);
	return v;
}

void stream_begin(struct conn *c, const char *raw)
{
	struct viewer_query *q;
	struct stream *s;
	if (!stream_admit(c, raw, false, head_response, &q, &s))
		return;
	if (s) {
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
