/* /ace/status (JSON) and /metrics (Prometheus text) of the dataplane. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dataplane/conn.h"
#include "dataplane/control.h"

struct sbuf {
	char *p;
	size_t len, cap;
	bool oom;
};

static void sb_printf(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_printf(struct sbuf *b, const char *fmt, ...)
{
	for (;;) {
		va_list ap;
		va_start(ap, fmt);
		size_t room = b->cap - b->len;
		int n = vsnprintf(b->p ? b->p + b->len : NULL, b->p ? room : 0, fmt, ap);
		va_end(ap);
		if (n < 0) {
			b->oom = true;
			return;
		}
		if (b->p && (size_t)n < room) {
			b->len += (size_t)n;
			return;
		}
		size_t ncap = (b->cap ? b->cap * 2 : 4096) + (size_t)n;
		if (ncap > 8 * 1024 * 1024) {
			b->oom = true;
			return;
		}
		char *np = realloc(b->p, ncap);
		if (!np) {
			b->oom = true;
			return;
		}
		b->p = np;
		b->cap = ncap;
	}
}

static void sb_json_str(struct sbuf *b, const char *s)
{
	sb_printf(b, "\"");
	for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
		if (*c == '"' || *c == '\\')
			sb_printf(b, "\\%c", *c);
		else if (*c < 0x20)
			sb_printf(b, "\\u%04x", *c);
		else
			sb_printf(b, "%c", *c);
	}
	sb_printf(b, "\"");
}

void serve_status(struct conn *c)
{
	struct dp *dp = c->w->dp;
	struct sbuf b = {0};
	double now = dp_now();
	pthread_mutex_lock(&dp->reg_mu);
	uint64_t viewers = 0; /* every stream's viewers, not the streams */
	for (struct stream_rec *r = dp->streams; r; r = r->next)
		viewers += atomic_load(&r->viewers);
	sb_printf(&b,
	          "{\"instance\":\"%s\",\"version\":\"%s\",\"uptime_s\":%.1f,"
	          "\"controlplane_connected\":%s,\"draining\":%s,\"workers\":%d,"
	          "\"viewers\":%" PRIu64 ",\"streams\":[",
	          dp->instance, ACEXY_VERSION, now - dp->start_time,
	          dp_control_connected(dp) ? "true" : "false",
	          atomic_load(&dp->draining) ? "true" : "false", dp->nworkers, viewers);
	bool first = true;
	for (struct stream_rec *r = dp->streams; r; r = r->next) {
		sb_printf(&b, "%s{\"lease\":%" PRIu64 ",\"content\":", first ? "" : ",",
		          r->lease_id);
		sb_json_str(&b, r->content);
		sb_printf(&b, ",\"engine\":");
		sb_json_str(&b, r->engine);
		sb_printf(&b,
		          ",\"worker\":%d,\"viewers\":%u,\"bytes\":%" PRIu64
		          ",\"age_s\":%.1f,\"failovers\":%u",
		          r->worker, (unsigned)atomic_load(&r->viewers),
		          (uint64_t)atomic_load(&r->bytes), now - r->started,
		          (unsigned)atomic_load(&r->failovers));
		json_t *ej = dp_registry_engine_json(r, now);
		char *es = json_dumps(ej, JSON_COMPACT | JSON_ENCODE_ANY);
		json_decref(ej);
		sb_printf(&b, ",\"state\":\"%s\",\"engine_state\":%s}", dp_registry_state(r),
		          es ? es : "null");
		free(es);
		first = false;
	}
	sb_printf(&b, "],\"engines\":[");
	/* engines in use: distinct engine descriptions of live streams */
	first = true;
	for (struct stream_rec *r = dp->streams; r; r = r->next) {
		bool seen = false;
		for (struct stream_rec *q = dp->streams; q != r; q = q->next)
			if (strcmp(q->engine, r->engine) == 0)
				seen = true;
		if (seen)
			continue;
		unsigned n = 0;
		for (struct stream_rec *q = dp->streams; q; q = q->next)
			if (strcmp(q->engine, r->engine) == 0)
				n++;
		sb_printf(&b, "%s{\"engine\":", first ? "" : ",");
		sb_json_str(&b, r->engine);
		sb_printf(&b, ",\"streams\":%u}", n);
		first = false;
	}
	pthread_mutex_unlock(&dp->reg_mu);
	sb_printf(&b, "]}\n");
	if (b.oom) {
		free(b.p);
		conn_respond_error(c, 503, "status too large", 5);
		return;
	}
	conn_respond(c, 200, "application/json", NULL, b.p, b.len);
	free(b.p);
}

static void histogram(struct sbuf *b, const char *name, const char *help,
                      const double bounds[DP_HIST_BOUNDS], struct dp_hist *h)
{
	sb_printf(b, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
	for (int i = 0; i <= DP_HIST_BOUNDS; i++) {
		char le[32];
		if (i < DP_HIST_BOUNDS)
			snprintf(le, sizeof(le), "%g", bounds[i]);
		else
			snprintf(le, sizeof(le), "+Inf");
		sb_printf(b, "%s_bucket{le=\"%s\"} %" PRIu64 "\n", name, le,
		          (uint64_t)atomic_load(&h->bucket[i]));
	}
	sb_printf(b, "%s_sum %.6f\n%s_count %" PRIu64 "\n", name,
	          (double)atomic_load(&h->sum_us) / 1e6, name, (uint64_t)atomic_load(&h->count));
}

static void labelled_gauge(struct sbuf *b, const char *name, const char *help, const char *label,
                           const char *const *names, const uint64_t *v, int n)
{
	sb_printf(b, "# HELP %s %s\n# TYPE %s gauge\n", name, help, name);
	for (int i = 0; i < n; i++)
		sb_printf(b, "%s{%s=\"%s\"} %" PRIu64 "\n", name, label, names[i], v[i]);
}

/* What the engines say about the streams, as gauges by stream state (never
 * by content: a label per content would grow without bound). */
static void engine_state_metrics(struct dp *dp, struct sbuf *b)
{
	static const char *const states[2] = {"prebuffering", "playing"};
	static const char *const kinds[4] = {"prebuf", "dl", "other", "unknown"};
	uint64_t n[2] = {0}, peers[2] = {0}, down[2] = {0}, by_status[4] = {0};
	pthread_mutex_lock(&dp->reg_mu);
	for (struct stream_rec *r = dp->streams; r; r = r->next) {
		int i = r->playing ? 1 : 0;
		n[i]++;
		peers[i] += r->stat_peers > 0 ? (uint64_t)r->stat_peers : 0;
		down[i] += r->stat_speed_down > 0 ? (uint64_t)r->stat_speed_down : 0;
		int k = !r->stat_status[0]                      ? 3
		        : strcmp(r->stat_status, "prebuf") == 0 ? 0
		        : strcmp(r->stat_status, "dl") == 0     ? 1
		                                                : 2;
		by_status[k]++;
	}
	pthread_mutex_unlock(&dp->reg_mu);
	labelled_gauge(b, "acexy_streams_by_state",
	               "Streams with an engine session, by state (prebuffering: waiting for the "
	               "first bytes).",
	               "state", states, n, 2);
	labelled_gauge(b, "acexy_engine_peers", "Peers the engines report, summed by stream state.",
	               "state", states, peers, 2);
	labelled_gauge(b, "acexy_engine_speed_down_kbytes",
	               "Engines' download speed (KB/s), summed by stream state.", "state", states,
	               down, 2);
	labelled_gauge(b, "acexy_streams_by_engine_status",
	               "Streams by the status their engine last reported.", "status", kinds,
	               by_status, 4);
}

void serve_metrics(struct conn *c)
{
	struct dp *dp = c->w->dp;
	struct dp_stats *st = &dp->stats;
	struct sbuf b = {0};
#define COUNTER(name, help, val)                                                                   \
	sb_printf(&b, "# HELP " name " " help "\n# TYPE " name " counter\n" name " %" PRIu64 "\n", \
	          (uint64_t)(val))
#define GAUGE(name, help, val)                                                                     \
	sb_printf(&b, "# HELP " name " " help "\n# TYPE " name " gauge\n" name " %" PRIu64 "\n",   \
	          (uint64_t)(val))
	GAUGE("acexy_streams", "Live streams (200 sent, not ended).",
	      atomic_load(&st->streams_live));
	engine_state_metrics(dp, &b);
	GAUGE("acexy_connections", "Open viewer connections.", atomic_load(&st->conns_open));
	GAUGE("acexy_connections_idle",
	      "Connections waiting for a request (they hold no viewer seat).",
	      atomic_load(&st->conns_idle));
	COUNTER("acexy_connections_reclaimed_total",
	        "Idle connections closed, oldest first, to seat new ones.",
	        atomic_load(&st->conns_reclaimed));
	GAUGE("acexy_viewers", "Stream and HLS requests being served (ACEXY_MAX_VIEWERS).",
	      atomic_load(&st->viewer_slots));
	COUNTER("acexy_connections_accepted_total", "Viewer connections accepted.",
	        atomic_load(&st->conns_accepted));
	COUNTER("acexy_requests_total", "Viewer requests parsed.", atomic_load(&st->requests));
	COUNTER("acexy_streams_started_total", "Streams that reached 200.",
	        atomic_load(&st->streams_started));
	COUNTER("acexy_bytes_relayed_total", "Stream bytes written to viewers.",
	        dp_bytes_relayed(dp));
	COUNTER("acexy_upstream_reads_total",
	        "Engine stream reads that brought bytes (fewer per byte: coalescing works).",
	        dp_upstream_reads(dp));
	COUNTER("acexy_upstream_spliced_bytes_total",
	        "Stream bytes moved engine to viewer with splice, never copied to user space.",
	        dp_upstream_zcopy(dp));
	COUNTER("acexy_upstream_errors_total", "Engine failures (502/504 or broken streams).",
	        atomic_load(&st->upstream_errors));
	GAUGE("acexy_ring_memory_bytes", "Memory held by stream rings.",
	      atomic_load(&st->ring_bytes));
	COUNTER("acexy_viewers_dropped_total",
	        "Viewers of a shared stream dropped a whole buffer behind the live edge.",
	        atomic_load(&st->viewers_dropped));
	COUNTER("acexy_viewer_handoffs_total",
	        "Viewers handed to the worker that owns their shared stream.",
	        atomic_load(&st->handoffs));
	COUNTER("acexy_control_bad_messages_total",
	        "Messages refused: undecodable, or going the wrong way (proto/README.md).",
	        atomic_load(&st->bad_messages));
	GAUGE("acexy_controlplane_connected", "1 while a controlplane answers.",
	      dp_control_connected(dp) ? 1 : 0);
	GAUGE("acexy_draining", "1 while draining.", atomic_load(&dp->draining) ? 1 : 0);
	sb_printf(&b, "# HELP acexy_responses_total Responses by status class.\n"
	              "# TYPE acexy_responses_total counter\n");
	for (int i = 1; i <= 5; i++)
		sb_printf(&b, "acexy_responses_total{class=\"%dxx\"} %" PRIu64 "\n", i,
		          (uint64_t)atomic_load(&st->status[i]));
	sb_printf(&b, "# HELP acexy_streams_ended_total Streams ended, by reason.\n"
	              "# TYPE acexy_streams_ended_total counter\n");
	for (int i = 0; i < DP_END_COUNT_; i++)
		sb_printf(&b, "acexy_streams_ended_total{reason=\"%s\"} %" PRIu64 "\n",
		          dp_end_reason_name((enum dp_end_reason)i),
		          (uint64_t)atomic_load(&st->ended[i]));
	histogram(&b, "acexy_time_to_first_byte_seconds", "From request to the first stream byte.",
	          dp_ttfb_bounds, &st->ttfb);
	static const char *const fo_reason[] = {"eof", "error", "stall"};
	sb_printf(&b, "# HELP acexy_failovers_total Engine sessions replaced mid-stream, by the "
	              "failure that started it.\n# TYPE acexy_failovers_total counter\n");
	for (int i = 0; i < 3; i++)
		sb_printf(&b, "acexy_failovers_total{reason=\"%s\"} %" PRIu64 "\n", fo_reason[i],
		          (uint64_t)atomic_load(&st->failovers[i]));
	histogram(
	        &b, "acexy_failover_gap_seconds",
	        "What viewers saw of a failover: from the old engine's last byte to the new one's "
	        "first.",
	        dp_failover_gap_bounds, &st->failover_gap);
#undef COUNTER
#undef GAUGE
	if (b.oom) {
		free(b.p);
		conn_respond_error(c, 503, "metrics too large", 5);
		return;
	}
	conn_respond(c, 200, "text/plain; version=0.0.4", NULL, b.p, b.len);
	free(b.p);
}
