/* Stream continuity: mid-stream engine failover, and the index of random
 * access points that late joiners start at (INTERFACE.md "Stream
 * continuity", "Joining at a picture").
 *
 * After the 200, an engine transfer that ends (EOF of a live stream, reset,
 * HTTP or chunk framing error) or brings nothing for ACEXY_FAILOVER_STALL
 * (backpressure pauses excluded) is a failure: the old engine session gets
 * its stop command and its lease ends with `failover`; a new lease is asked
 * for that avoids the failed engine (single-engine mode: the same engine, a
 * fresh getstream with a new pid); the viewers keep their connections and
 * the new session's bytes follow at a packet boundary (ts_inspect.h's
 * splice: partial packet dropped, new bytes from a PAT, each PID's first
 * packet flagged as a discontinuity). Bounded by ACEXY_FAILOVER_MAX switches
 * in 10 minutes (a switch counts once, however many attempts it takes) and
 * ACEXY_ASSIGN_TIMEOUT + ACEXY_FIRST_BYTE_TIMEOUT per switch, within which
 * failed attempts are retried after a growing delay (0.25 s doubling to 1 s),
 * each replacement session held to ACEXY_FIRST_BYTE_TIMEOUT for its first
 * byte; past them the stream ends with the last failure's reason.
 *
 * So that a partial packet can be dropped, the copy path never lets an
 * incomplete one go (the splice holds it back); the zero-copy pipe path
 * holds nothing back, and a packet it broke off is completed with stuffing
 * (drop_partial). Shared streams scan what goes
 * into the ring for random access points (ring_mark_rap). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "acexy/log.h"
#include "dataplane/control.h"
#include "dataplane/ring.h"
#include "dataplane/ts_inspect.h"

#include "dataplane/stream_int.h"

#define BUDGET_WINDOW_S 600.0             /* ACEXY_FAILOVER_MAX counts this far back */
#define SWITCH_WINDOW   (2 * 1024 * 1024) /* bytes of a new source whose PIDs are flagged */
#define FLAG_PIDS_MAX   64
#define RETRY_DELAY_S   0.25 /* before the first retry of a replacement; doubles */
#define RETRY_DELAY_MAX 1.0  /* up to this */
#define TIMES_MAX       64

struct continuity {
	struct stream *s;
	bool splice_on; /* ACEXY_FAILOVER */
	bool scan_on;   /* shared stream: index random access points */
	struct ts_splice sp;
	struct ts_scan scan;
	uint64_t emitted; /* bytes given to the viewers' path (pipe or ring) */
	/* failover */
	double times[TIMES_MAX]; /* switches begun, for the budget */
	unsigned ntimes;
	enum cont_fail last_kind;
	char last_why[200];
	char old_engine[420];
	char avoid[300];    /* the failed engine, as the controlplane knows it */
	double t_last_byte; /* the old session's last byte */
	double t_detect;
	ev_timer stall;    /* no data for ACEXY_FAILOVER_STALL */
	ev_timer deadline; /* a switch's whole budget of time */
	ev_timer retry;
	unsigned attempts; /* at a replacement, in this switch */
	/* During a switch the stream keeps its last lease (and its registry
	 * record), so `acexyctl streams` shows it and `acexyctl stop` reaches
	 * it; it ends when the next lease is granted, with held_reason:
	 * failover (the failed session's), upstream_error (a replacement's that
	 * never started). */
	bool held;
	enum dp_end_reason held_reason;
	char held_psid[128];
};

static const char *const fail_names[] = {"eof", "error", "stall"};

const char *continuity_fail_name(enum cont_fail k)
{
	return (unsigned)k < CONT_FAIL_COUNT_ ? fail_names[k] : "unknown";
}

static enum dp_end_reason end_reason_of(enum cont_fail k)
{
	return k == CONT_FAIL_EOF     ? DP_END_UPSTREAM_EOF
	       : k == CONT_FAIL_STALL ? DP_END_EMPTY_TIMEOUT
	                              : DP_END_UPSTREAM_ERROR;
}

static void debug(struct stream *s, const char *event, const char *why)
{
	struct continuity *ct = s->cont;
	dp_control_debug_event(s->w, DEBUGLOG_FAILOVER,
	                       json_pack("{s:s,s:s,s:s,s:I,s:s,s:s,s:s,s:i,s:s}", "event", event,
	                                 "instance", s->dp->instance, "key", viewer_query_key(s->q),
	                                 "lease", (json_int_t)s->lease.lease_id, "reason",
	                                 continuity_fail_name(ct->last_kind), "old_engine",
	                                 ct->old_engine, "engine", s->engine_desc, "failovers",
	                                 (int)s->failovers, "why", why));
}

/* ---- bytes ---- */

void continuity_body(struct stream *s, char *data, size_t len)
{
	struct continuity *ct = s->cont;
	if (!ct->splice_on) {
		if (ct->scan_on) /* all of a shared stream's bytes go to the ring */
			ts_scan_feed(&ct->scan, (const uint8_t *)data, len);
		relay_body(s, data, len);
		goto marks;
	}
	if (ct->sp.part_len == 0 && ct->sp.skip == 0 && ct->emitted % TS_PKT)
		ts_splice_set_phase(&ct->sp, (size_t)(ct->emitted % TS_PKT));
	size_t off = 0;
	while (off < len && s->state != S_DONE && !s->pending_status && s->pending_end < 0) {
		struct ts_seg seg[TS_SPLICE_SEGS];
		size_t used = 0;
		int n = ts_splice_feed(&ct->sp, (uint8_t *)data + off, len - off, seg,
		                       TS_SPLICE_SEGS, &used);
		for (int i = 0; i < n && s->state != S_DONE; i++) {
			ct->emitted += seg[i].len;
			if (ct->scan_on)
				ts_scan_feed(&ct->scan, seg[i].p, seg[i].len);
			relay_body(s, (char *)seg[i].p, seg[i].len);
		}
		off += used;
	}
marks:
	if (ct->scan_on && s->ring && ct->scan.raps)
		ring_mark_rap(s->ring, ct->scan.last_rap);
}

bool continuity_zero_copy_ready(struct stream *s)
{
	struct continuity *ct = s->cont;
	if (!ct || !ct->splice_on)
		return true;
	if (s->failing_over || ct->sp.skip > 0 || ts_splice_switching(&ct->sp))
		return false;
	if (ct->sp.part_len == 0)
		return true;
	/* the packet the copy path holds back goes first, to the pipe's end
	 * (where the pipe keeps incomplete packets) */
	ssize_t w = write(s->pipe[1], ct->sp.part, ct->sp.part_len);
	if (w != (ssize_t)ct->sp.part_len) {
		if (w > 0) { /* not with an empty pipe; keep the counts true */
			s->pipe_fill += (size_t)w;
			ct->emitted += (size_t)w;
			memmove(ct->sp.part, ct->sp.part + w, ct->sp.part_len - (size_t)w);
			ct->sp.part_len -= (size_t)w;
		}
		return false;
	}
	s->pipe_fill += (size_t)w;
	ct->emitted += (size_t)w;
	ct->sp.part_len = 0;
	return true;
}

size_t continuity_extra(const struct stream *s)
{
	const struct continuity *ct = s->cont;
	if (!ct || !ct->splice_on)
		return 0;
	return TS_PKT + (ts_splice_switching(&ct->sp) ? FLAG_PIDS_MAX * TS_PKT : 0);
}

void continuity_piped(struct stream *s, size_t n)
{
	if (s->cont)
		s->cont->emitted += n;
}

/* The old session's incomplete packet: the copy path held it back in the
 * splice (dropped by the switch); still in the pipe, it is read out here.
 * The zero-copy path holds nothing back (that would cost it a splice more
 * per read): what of the packet reached the viewer already is completed
 * with stuffing bytes instead, so the stream stays packet-aligned (the
 * engine broke that packet's frame off anyway). */
static void drop_partial(struct stream *s)
{
	struct continuity *ct = s->cont;
	size_t h = (size_t)(ct->emitted % TS_PKT);
	if (h == 0)
		return;
	struct viewer *v = s->viewers;
	bool in_pipe = s->pipe[0] >= 0 && s->pipe_fill >= h && (!v || ring_reader_lag(v->rd) == 0);
	if (in_pipe) {
		char *buf = malloc(s->pipe_fill);
		ssize_t n = buf ? read(s->pipe[0], buf, s->pipe_fill) : -1;
		if (n == (ssize_t)s->pipe_fill) {
			s->pipe_fill = 0;
			if ((size_t)n > h) {
				size_t held = ring_memory(s->ring);
				ring_write(s->ring, buf, (size_t)n - h);
				relay_ring_account(s, held);
			}
			ct->emitted -= h;
			ct->sp.dropped += h;
			free(buf);
			return;
		}
		free(buf);
		if (n > 0) /* cannot happen with a pipe; keep the counts true */
			s->pipe_fill -= (size_t)n;
	}
	char fill[TS_PKT];
	memset(fill, 0xff, sizeof(fill));
	size_t held = ring_memory(s->ring);
	ring_write(s->ring, fill, TS_PKT - h);
	relay_ring_account(s, held);
	ct->emitted += TS_PKT - h;
}

/* ---- failover ---- */

static bool budget_left(struct stream *s)
{
	struct continuity *ct = s->cont;
	double now = dp_now();
	unsigned k = 0;
	for (unsigned i = 0; i < ct->ntimes; i++)
		if (now - ct->times[i] < BUDGET_WINDOW_S)
			ct->times[k++] = ct->times[i];
	ct->ntimes = k;
	uint64_t max = acexy_cfg_u(s->dp->cfg, ACEXY_S_FAILOVER_MAX);
	return ct->ntimes < max && ct->ntimes < TIMES_MAX;
}

/* One attempt at a replacement. Attempts are bounded by the switch's
 * deadline only: ACEXY_FAILOVER_MAX counts switches (continuity_engine_failed),
 * not the retries of one. */
static void ask_replacement(struct stream *s)
{
	s->cont->attempts++;
	stream_new_pid(s);
	s->redirects = 0;
	memset(&s->ans, 0, sizeof(s->ans));
	s->upstream_done = false;
	s->upstream_ok = false;
	stream_request_lease(s, s->cont->avoid);
}

/* The lease kept through the switch ends (with its own reason). */
static void end_held(struct stream *s)
{
	struct continuity *ct = s->cont;
	if (!ct || !ct->held)
		return;
	ct->held = false;
	if (!s->have_lease)
		return;
	bool first = ct->held_reason == DP_END_FAILOVER;
	dp_control_stream_ended(s->w, &s->lease, ct->held_psid, ct->held_reason,
	                        first ? s->bytes_out : 0,
	                        first ? (uint64_t)((dp_now() - s->t_start) * 1000) : 0);
	s->have_lease = false;
}

void continuity_lease_granted(struct stream *s)
{
	if (s->failing_over)
		end_held(s);
}

static void hold_lease(struct stream *s, enum dp_end_reason reason)
{
	struct continuity *ct = s->cont;
	if (!s->have_lease || ct->held)
		return;
	ct->held = true;
	ct->held_reason = reason;
	snprintf(ct->held_psid, sizeof(ct->held_psid), "%s", s->ans.playback_session_id);
}

static void give_up(struct stream *s, const char *why)
{
	struct continuity *ct = s->cont;
	end_held(s);
	ev_timer_stop(s->w->loop, &ct->deadline);
	ev_timer_stop(s->w->loop, &ct->retry);
	s->failing_over = false;
	ALOG(ALOG_WARN, "failover_failed", ALOG_S("content", s->content),
	     ALOG_S("old_engine", ct->old_engine),
	     ALOG_S("reason", continuity_fail_name(ct->last_kind)), ALOG_S("why", why),
	     ALOG_U("failovers", s->failovers));
	debug(s, "gave_up", why);
	stream_finish(s, end_reason_of(ct->last_kind));
}

static void on_deadline(struct ev_loop *loop, ev_timer *t, int revents)
{
	(void)loop;
	(void)revents;
	give_up(((struct continuity *)t->data)->s,
	        "no engine served within ACEXY_ASSIGN_TIMEOUT + ACEXY_FIRST_BYTE_TIMEOUT");
}

static void on_retry(struct ev_loop *loop, ev_timer *t, int revents)
{
	(void)loop;
	(void)revents;
	struct stream *s = ((struct continuity *)t->data)->s;
	debug(s, "retry", s->cont->last_why);
	ask_replacement(s);
}

bool continuity_engine_failed(struct stream *s, enum cont_fail kind, const char *why)
{
	struct continuity *ct = s->cont;
	if (!ct || !ct->splice_on || !s->started || s->failing_over || s->state == S_DONE ||
	    s->hls || !s->viewers || atomic_load(&s->dp->draining) ||
	    atomic_load(&s->dp->shutting_down))
		return false;
	if (kind == CONT_FAIL_EOF && !s->ans.is_live)
		return false; /* a recording that ended: nothing to fail over */
	ct->last_kind = kind;
	snprintf(ct->last_why, sizeof(ct->last_why), "%s", why ? why : "");
	if (!budget_left(s)) {
		ALOG(ALOG_WARN, "failover_refused", ALOG_S("content", s->content),
		     ALOG_S("engine", s->engine_desc), ALOG_S("reason", continuity_fail_name(kind)),
		     ALOG_S("why", "ACEXY_FAILOVER_MAX switches in 10 minutes spent"));
		debug(s, "gave_up", "ACEXY_FAILOVER_MAX switches in 10 minutes spent");
		return false;
	}
	struct ev_loop *loop = s->w->loop;
	s->failing_over = true;
	ct->t_detect = dp_now();
	ct->times[ct->ntimes++] = ct->t_detect; /* one switch, however many attempts */
	ct->attempts = 0;
	ct->t_last_byte = ct->t_detect - (ev_now(loop) - s->last_data);
	snprintf(ct->old_engine, sizeof(ct->old_engine), "%s", s->engine_desc);
	if (s->lease.container_id[0])
		snprintf(ct->avoid, sizeof(ct->avoid), "%s", s->lease.container_id);
	else
		snprintf(ct->avoid, sizeof(ct->avoid), "%.255s:%u", s->lease.host, s->lease.port);
	/* the old session: transfer, stop command, lease (reason failover) */
	upstream_close(&s->up);
	ev_timer_stop(loop, &ct->stall);
	ev_timer_stop(loop, &s->empty_timer);
	ev_timer_stop(loop, &s->stall_timer);
	s->paused = false;
	s->pipe_blocked = false;
	drop_partial(s);
	ts_splice_switch(&ct->sp, SWITCH_WINDOW, FLAG_PIDS_MAX);
	if (ct->scan_on)
		ts_scan_init(&ct->scan, ring_write_pos(s->ring));
	stat_poll_stop(&s->stat); /* the new session's answer starts it anew */
	stream_engine_stop(s);
	/* the lease and the registry record stay until a new lease comes:
	 * the stream stays visible and can be stopped meanwhile */
	hold_lease(s, DP_END_FAILOVER);
	atomic_fetch_add(&s->dp->stats.ended[DP_END_FAILOVER], 1);
	ALOG(ALOG_INFO, "stream_ended", ALOG_S("content", s->content),
	     ALOG_S("engine", s->engine_desc), ALOG_U("lease", s->lease.lease_id),
	     ALOG_U("bytes", s->bytes_out), ALOG_S("reason", "failover"),
	     ALOG_S("failure", continuity_fail_name(kind)), ALOG_S("error", ct->last_why),
	     ALOG_B("shared", s->shared));
	debug(s, "detected", ct->last_why);
	double limit =
	        ms_to_s(cfg_ms(s, ACEXY_S_ASSIGN_TIMEOUT) + cfg_ms(s, ACEXY_S_FIRST_BYTE_TIMEOUT));
	ev_timer_set(&ct->deadline, limit, 0.);
	ev_timer_start(loop, &ct->deadline);
	ask_replacement(s);
	return true;
}

bool continuity_on_fail(struct stream *s, int status, const char *reason)
{
	struct continuity *ct = s->cont;
	if (!ct || !s->started || s->state == S_DONE)
		return false;
	if (!s->failing_over)
		return continuity_engine_failed(s, CONT_FAIL_ERROR, reason);
	/* the replacement failed before its first byte: try again, within the
	 * budget and the deadline */
	(void)status;
	snprintf(ct->last_why, sizeof(ct->last_why), "%s", reason);
	playback_release(s);
	stat_poll_stop(&s->stat);
	stream_engine_stop(s);
	/* a replacement's lease (it never started): held till the next one,
	 * then it ends as upstream_error; an assign refused keeps the older */
	hold_lease(s, DP_END_UPSTREAM_ERROR);
	s->state = S_ASSIGN;
	ev_timer_stop(s->w->loop, &s->deadline);
	ev_timer_stop(s->w->loop, &ct->retry);
	/* a growing delay: an engine restarting is not asked four times a
	 * second; the deadline ends the attempts */
	double delay = RETRY_DELAY_S;
	for (unsigned i = 1; i < ct->attempts && delay < RETRY_DELAY_MAX; i++)
		delay *= 2;
	if (delay > RETRY_DELAY_MAX)
		delay = RETRY_DELAY_MAX;
	ev_timer_set(&ct->retry, delay, 0.);
	ev_timer_start(s->w->loop, &ct->retry);
	return true;
}

static void on_stall(struct ev_loop *loop, ev_timer *t, int revents)
{
	(void)revents;
	struct continuity *ct = t->data;
	struct stream *s = ct->s;
	double period = ms_to_s(cfg_ms(s, ACEXY_S_FAILOVER_STALL));
	if (s->paused || s->pipe_blocked || s->failing_over || s->upstream_done) {
		/* time paused by a slow viewer does not count */
		ev_timer_set(t, period, 0.);
		ev_timer_start(loop, t);
		return;
	}
	double left = s->last_data + period - ev_now(loop);
	if (left > 0.001) {
		ev_timer_set(t, left, 0.);
		ev_timer_start(loop, t);
		return;
	}
	char why[80];
	snprintf(why, sizeof(why), "no engine data for %.1fs", period);
	continuity_engine_failed(s, CONT_FAIL_STALL, why);
}

static void arm_stall(struct stream *s)
{
	struct continuity *ct = s->cont;
	if (!ct->splice_on || cfg_ms(s, ACEXY_S_FAILOVER_STALL) == 0)
		return;
	ev_timer_stop(s->w->loop, &ct->stall);
	ev_timer_set(&ct->stall, ms_to_s(cfg_ms(s, ACEXY_S_FAILOVER_STALL)), 0.);
	ev_timer_start(s->w->loop, &ct->stall);
}

void continuity_started(struct stream *s)
{
	if (s->cont)
		arm_stall(s);
}

bool continuity_new_bytes(struct stream *s, const char *data)
{
	struct continuity *ct = s->cont;
	if ((unsigned char)data[0] != 0x47) {
		stream_fail(s, 502, "engine answered with a non-stream body", 0);
		return false;
	}
	struct ev_loop *loop = s->w->loop;
	ev_timer_stop(loop, &s->deadline);
	ev_timer_stop(loop, &ct->deadline);
	s->failing_over = false;
	s->state = S_RELAY;
	s->failovers++;
	double now = dp_now();
	double gap = now - ct->t_last_byte;
	struct dp_stats *st = &s->dp->stats;
	atomic_fetch_add(&st->failovers[ct->last_kind], 1);
	dp_hist_observe(&st->failover_gap, dp_failover_gap_bounds, gap);
	stream_registry_add(s);
	ALOG(ALOG_INFO, "failover", ALOG_S("content", s->content),
	     ALOG_S("old_engine", ct->old_engine), ALOG_S("engine", s->engine_desc),
	     ALOG_S("reason", continuity_fail_name(ct->last_kind)), ALOG_D("gap_ms", gap * 1000),
	     ALOG_D("detect_to_data_ms", (now - ct->t_detect) * 1000),
	     ALOG_U("lease", s->lease.lease_id), ALOG_U("failovers", s->failovers),
	     ALOG_U("viewers", s->nviewers));
	debug(s, "replaced", "");
	arm_stall(s);
	return true;
}

/* ---- lifecycle ---- */

int continuity_init(struct stream *s)
{
	bool splice_on = acexy_cfg_b(s->dp->cfg, ACEXY_S_FAILOVER);
	if (s->hls || (!splice_on && !s->shared))
		return 0;
	struct continuity *ct = calloc(1, sizeof(*ct));
	if (!ct)
		return -ENOMEM;
	ct->s = s;
	ct->splice_on = splice_on;
	ct->scan_on = s->shared;
	ts_splice_init(&ct->sp);
	ts_scan_init(&ct->scan, 0);
	ev_init(&ct->stall, on_stall);
	ct->stall.data = ct;
	ev_init(&ct->deadline, on_deadline);
	ct->deadline.data = ct;
	ev_init(&ct->retry, on_retry);
	ct->retry.data = ct;
	s->cont = ct;
	return 0;
}

void continuity_release(struct stream *s)
{
	struct continuity *ct = s->cont;
	if (!ct)
		return;
	ev_timer_stop(s->w->loop, &ct->stall);
	ev_timer_stop(s->w->loop, &ct->deadline);
	ev_timer_stop(s->w->loop, &ct->retry);
	free(ct);
	s->cont = NULL;
}
