/* The engine side of a stream: the API call (format=json, a fresh pid,
 * ACEXY_NO_RESPONSE_TIMEOUT) and the playback transfer — the 302 followed at
 * once from the head, the first TS bytes within ACEXY_FIRST_BYTE_TIMEOUT,
 * then the pump that reads the engine within a budget per event and hands
 * the bytes to relay.c. Every failure before the first byte is a status
 * with a reason (stream_fail). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acexy/curl_ev.h"
#include "acexy/engine_answer.h"
#include "acexy/engine_stop.h"
#include "acexy/http_fetch.h"
#include "acexy/log.h"
#include "dataplane/control.h"
#include "dataplane/query.h"
#include "dataplane/ring.h"

#include "dataplane/stream_int.h"

static void start_playback(struct stream *s, const char *url);
static void on_first_byte_timeout(struct ev_loop *loop, ev_timer *t, int revents);

/* The engine API call. It outlives a stream that ends while it is in
 * flight (the viewer left): the engine opens the session whether or not
 * anyone still waits for its answer, so the answer is read to the end and
 * the session it names is stopped at once (issue 22 item 4). */
struct api_call {
	struct stream *s; /* NULL once the stream is gone */
	struct curl_ev *curl;
	char content[200];
};

/* The stream left before the answer: stop whatever session it opened. */
static void api_orphan_done(struct api_call *a, const struct http_fetch_result *r)
{
	struct engine_answer ans;
	char why[256];
	if (r->res == CURLE_OK && r->status == 200 &&
	    engine_answer_parse(r->body, r->len, &ans, why, sizeof(why)) == 0 &&
	    ans.command_url[0]) {
		ALOG(ALOG_INFO, "engine_session_stopped_late", ALOG_S("content", a->content),
		     ALOG_S("session", ans.playback_session_id),
		     ALOG_S("why", "the viewer left during the engine API call"));
		engine_stop_send(a->curl, ans.command_url);
	}
	free(a);
}

static void api_done(void *ud, const struct http_fetch_result *r)
{
	struct api_call *a = ud;
	struct stream *s = a->s;
	if (!s) {
		api_orphan_done(a, r);
		return;
	}
	free(a);
	s->api = NULL;
	s->api_call = NULL;
	char reason[400];
	if (r->res == CURLE_OPERATION_TIMEDOUT) {
		snprintf(reason, sizeof(reason), "engine did not answer within %.1fs",
		         ms_to_s(cfg_ms(s, ACEXY_S_NO_RESPONSE_TIMEOUT)));
		stream_fail(s, 504, reason, 0);
		return;
	}
	if (r->too_big) {
		stream_fail(s, 502, "engine answer too large", 0);
		return;
	}
	if (r->res != CURLE_OK) {
		snprintf(reason, sizeof(reason), "engine unreachable: %s", r->error);
		stream_fail(s, 502, reason, 0);
		return;
	}
	if (r->status != 200) {
		snprintf(reason, sizeof(reason), "engine answered HTTP %ld", r->status);
		stream_fail(s, 502, reason, 0);
		return;
	}
	char why[256];
	if (engine_answer_parse(r->body, r->len, &s->ans, why, sizeof(why)) < 0) {
		snprintf(reason, sizeof(reason), "engine error: %s", why);
		if (probe_engine_refused(s, reason))
			return;
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
	stream_watch_engine(s);
	s->state = S_PLAYBACK;
	if (s->probe)
		return; /* no playback: the probe reads the stat (probe.c) */
	ev_timer_stop(s->w->loop, &s->deadline);
	ev_timer_set(&s->deadline, ms_to_s(cfg_ms(s, ACEXY_S_FIRST_BYTE_TIMEOUT)), 0.);
	s->deadline.cb = on_first_byte_timeout;
	ev_timer_start(s->w->loop, &s->deadline);
	if (s->hls)
		hls_after_api(s);
	else
		start_playback(s, s->ans.playback_url);
}

void playback_engine_call(struct stream *s)
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
	struct http_fetch_req req = {
	        .url = url,
	        .max = API_BODY_MAX,
	        .timeout_ms = (long)cfg_ms(s, ACEXY_S_NO_RESPONSE_TIMEOUT),
	        .tcp_nodelay = true,
	        /* the playback request connects anew (it is ours, not curl's): an
	         * idle kept-alive connection would only wait in the cache */
	        .forbid_reuse = true,
	};
	struct api_call *a = calloc(1, sizeof(*a));
	if (!a) {
		stream_fail(s, 502, "out of memory", 0);
		return;
	}
	a->s = s;
	a->curl = s->w->curl;
	snprintf(a->content, sizeof(a->content), "%s", s->content);
	s->state = S_ENGINE_API;
	s->api = http_fetch_start(s->w->curl, &req, api_done, a);
	if (!s->api) {
		free(a);
		stream_fail(s, 502, "cannot start the engine request", 0);
		return;
	}
	s->api_call = a;
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
	playback_pump(s); /* bytes may have come with the head */
}

static void up_readable(void *ud)
{
	playback_pump(ud);
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
	/* a replacement session during a failover is held to the same limit:
	 * stream_fail hands it to the continuity module, which tries again */
	if (!s->started || s->failing_over)
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

/* First stream bytes: they must be MPEG-TS; the 200 leaves with them. */
static bool first_data(struct stream *s, const char *data)
{
	if ((unsigned char)data[0] != 0x47) {
		stream_fail(s, 502, "engine answered with a non-stream body", 0);
		return false;
	}
	ev_timer_stop(s->w->loop, &s->deadline);
	stream_started(s);
	if (s->state == S_DONE)
		return false;
	relay_pipe_open(s);
	return true;
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
	if (continuity_engine_failed(s, ok ? CONT_FAIL_EOF : CONT_FAIL_ERROR,
	                             ok ? "the engine ended the stream" : why))
		return; /* the viewers stay; a new engine session follows */
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

void playback_pump(struct stream *s)
{
	bool outer = s->in_cb;
	s->in_cb = true;
	size_t budget = WRITE_BUDGET;
	while (budget > 0 && s->state != S_DONE && !s->upstream_done && !s->paused &&
	       !s->pipe_blocked && !s->pending_status && s->pending_end < 0) {
		ssize_t n;
		if (!s->small_chunks && relay_zero_copy(s)) {
			n = relay_pump_pipe(s);
		} else {
			size_t max = SCRATCH_SIZE;
			if (!s->shared) {
				/* what a splice adds (a held-back packet, flagged
				 * packets) must fit as well */
				size_t space = ring_write_space(s->ring);
				size_t extra = continuity_extra(s);
				space = space > extra ? space - extra : 0;
				if (space < max)
					max = space;
			}
			if (max == 0) { /* the ring is full: backpressure */
				relay_pause(s);
				break;
			}
			n = upstream_read(&s->up, s->w->scratch, max);
			/* chunks much smaller than a read are not worth a pipe */
			s->small_chunks = http_body_raw_left(&s->up.body) < SPLICE_MIN_CHUNK;
			if (n > 0 && !s->started && !first_data(s, s->w->scratch))
				n = 0;
			else if (n > 0 && s->failing_over &&
			         !continuity_new_bytes(s, s->w->scratch))
				n = 0;
			if (n > 0 && s->cont)
				continuity_body(s, s->w->scratch, (size_t)n);
			else if (n > 0)
				relay_body(s, s->w->scratch, (size_t)n);
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
		stream_carry_out_pending(s);
}

void playback_release(struct stream *s)
{
	if (s->api) {
		/* in flight: it finishes on its own and stops what it opened
		 * (bounded by ACEXY_NO_RESPONSE_TIMEOUT, the call's own limit) */
		s->api_call->s = NULL;
		s->api = NULL;
		s->api_call = NULL;
	}
	upstream_close(&s->up);
}
