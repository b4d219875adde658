/* Internals shared by the stream modules, one owner each:
 *   stream.c    a stream's lifecycle: control wait, lease, start, end
 *   playback.c  the engine API call and the playback transfer (the pump)
 *   relay.c     engine bytes to viewers: pipe (splice), ring, write budget
 *   viewer.c    viewers: joining, the 200, leaving; their connections
 *   hls.c       HLS sessions' playlists and segments
 * Not for other modules. */
#ifndef ACEXY_DP_STREAM_INT_H
#define ACEXY_DP_STREAM_INT_H

#include <curl/curl.h>
#include <ev.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "acexy/engine_answer.h"
#include "dataplane/conn.h"
#include "dataplane/control.h"
#include "dataplane/hls_playlist.h"
#include "dataplane/query.h"
#include "dataplane/ring.h"
#include "dataplane/stat_poll.h"
#include "dataplane/upstream.h"

#define API_BODY_MAX      (64 * 1024)
#define MAX_REDIRECTS     5
#define WRITE_BUDGET      (1024 * 1024) /* bytes per writable event, for fairness */
#define CHUNK_SIZE        (64 * 1024)
#define FRAME_READ        64                /* read to get past chunk framing */
#define SPLICE_MIN_CHUNK  (16 * 1024)       /* smaller chunks are read, not spliced */
#define PIPE_GROWN        (256 * 1024)      /* pipe of a stream that fills its first one */
#define PIPE_SHRINK_RATE  (8 * 1024 * 1024) /* B/s: below it, back to the default pipe */
#define PIPE_STALL_MS     100               /* a viewer blocked this long: buffer in the ring */
#define COALESCE_MS       100               /* a steady stream is read about this often */
#define COALESCE_CHECK_MS 250               /* bytes below the mark wait at most this long */
#define COALESCE_MAX      (64 * 1024)       /* the largest receive low-water mark */
#define TS_PACKET         188

enum sstate {
	S_CONTROL_WAIT,
	S_ASSIGN,
	S_ENGINE_API,
	S_PLAYBACK,
	S_RELAY,
	S_DONE,
};

struct assign_token {
	struct stream *s; /* NULL once the stream is gone */
	struct worker *w; /* whose loop the answer comes to */
};

/* Why an engine session failed after the 200 (continuity.c). */
enum cont_fail {
	CONT_FAIL_EOF,   /* the engine ended a live stream */
	CONT_FAIL_ERROR, /* reset, HTTP or chunk framing error */
	CONT_FAIL_STALL, /* no data for ACEXY_FAILOVER_STALL */
	CONT_FAIL_COUNT_
};

struct viewer {
	struct viewer *next;
	struct stream *s;
	struct conn *c;
	struct ring_reader *rd;
	ev_timer write_timer;
	uint64_t bytes_out;
	double t_start;
	bool sent_200;
	bool keep_alive; /* the request allowed it (HLS: the answer may keep it) */
};

struct stream {
	struct stream *next; /* the worker's streams */
	struct worker *w;
	struct dp *dp;
	enum sstate state;
	struct viewer_query *q;
	bool shared;       /* multiplex */
	bool counted_open; /* in dp->stats.streams_open (ACEXY_MAX_STREAMS) */
	char pid[33];
	char content[200];
	struct assign_token *tok;
	struct dp_lease lease;
	bool have_lease;
	struct viewer *viewers;
	unsigned nviewers;
	ev_timer deadline; /* control wait, first byte */
	ev_timer empty_timer;
	double last_data;     /* ev_now() of the last engine bytes */
	ev_timer grace_timer; /* multiplex: after the last viewer */
	enum dp_end_reason last_viewer_reason;
	struct http_fetch *api;    /* the engine API call in flight */
	struct api_call *api_call; /* its state (playback.c) */
	struct engine_answer ans;
	bool have_session;
	struct upstream up; /* the playback transfer */
	char play_url[2048];
	int redirects;
	/* per-request streams: engine -> pipe -> viewer with splice(2) while
	 * the viewer keeps up; the ring takes over while it does not */
	int pipe[2];
	size_t pipe_fill, pipe_cap;
	bool small_chunks; /* chunked with small chunks: the copy path */
	bool pipe_blocked; /* the viewer has not taken the pipe yet */
	bool pipe_grown;
	ev_timer stall_timer;
	ev_timer coalesce_timer; /* the receive low-water mark, stuck bytes */
	double rate_t0;
	uint64_t rate_b0;
	struct ring *ring;
	bool paused;
	bool started; /* first stream byte seen, 200 sent */
	bool upstream_done;
	bool upstream_ok;
	uint64_t bytes_in, bytes_out;
	double t_start, t_first;
	struct stream_rec *rec;
	struct stat_poll stat;  /* the engine's stat_url, from its answer to the end */
	struct probe *probe;    /* /ace/probe's session: no viewers (probe.c) */
	struct probe *watchers; /* multiplex: probes waiting on this shared stream */
	bool probe_made;        /* multiplex: opened for a probe, not for a viewer */
	ev_timer probe_end;     /* its end once no probe waits and no viewer joined */
	char engine_desc[420];
	/* inside a curl callback the transfer cannot be torn down: an end is
	 * recorded here and carried out by the transfer's done callback */
	bool in_cb;
	int pending_status; /* >0: stream_fail(pending_status, pending_reason) */
	char pending_reason[300];
	int pending_end; /* >=0: stream_finish(pending_end) */
	/* HLS sessions */
	bool hls;
	char hls_id[48];           /* "<worker>-<hex>": /ace/hls/<hls_id>/... */
	struct hls_entry *hls_map; /* proxy resource number -> engine URL */
	unsigned hls_nmap;
	uint32_t hls_next;
	struct hls_fetch *fetches; /* requests in flight for this session */
	ev_timer hls_idle;
	/* continuity.c: failover and random access points */
	struct continuity *cont;
	bool failing_over; /* between an engine failure and the new session's first byte */
	bool rec_stale;    /* the registry record is the previous session's (failover) */
	unsigned failovers;
};

#define HLS_MAP_MAX 512

struct hls_entry {
	uint32_t id;
	char ext[8];
	char *url;
};

static inline double ms_to_s(uint64_t ms)
{
	return (double)ms / 1000.0;
}

static inline uint64_t cfg_ms(const struct stream *s, enum acexy_setting_id id)
{
	return acexy_cfg_u(s->dp->cfg, id);
}

static inline void stream_set_viewer_count(struct stream *s)
{
	if (s->rec)
		atomic_store(&s->rec->viewers, s->nviewers);
}

/* stream.c: lifecycle and lease */
void stream_fail(struct stream *s, int status, const char *reason, unsigned retry_after);
void stream_finish(struct stream *s, enum dp_end_reason reason);
struct stream *stream_new(struct worker *w, struct viewer_query *q, bool shared);
void stream_start(struct stream *s); /* control wait or lease request */
/* What a TS and an HLS request do first: the query (a 400, draining or
 * ACEXY_MAX_VIEWERS answers it), HEAD (answered by `head`), and in multiplex
 * mode the content's stream on this loop or the loop to hand the viewer to.
 * False: answered or handed over. True: the caller joins *join (not NULL)
 * or opens a stream with *q (which it then owns). */
bool stream_admit(struct conn *c, const char *raw, bool hls, void (*head)(struct conn *c),
                  struct viewer_query **q, struct stream **join);
/* A new stream with c as its first viewer, within ACEXY_MAX_STREAMS; takes
 * q. NULL when the request was answered (503). */
struct stream *stream_open(struct conn *c, struct viewer_query *q, bool hls);
/* The viewer's query, or NULL when the request was answered (400, draining,
 * ACEXY_MAX_VIEWERS). */
struct viewer_query *stream_request_query(struct conn *c, const char *raw);
void stream_registry_add(struct stream *s);
/* The engine answered: the stream is listed (prebuffering) and its stat_url
 * read from now on (a probe: at its own pace). */
void stream_watch_engine(struct stream *s);
unsigned stream_mux_owner(const char *key, int nworkers);
/* Multiplex mode: the loop owning the content's shared TS or HLS stream, and
 * that stream on loop w in any state before its end (NULL: none). */
unsigned stream_shared_owner(struct dp *dp, const struct viewer_query *q, bool hls);
struct stream *stream_shared_lookup(struct worker *w, const struct viewer_query *q, bool hls);
/* The first TS byte arrived: 200 to every viewer waiting. */
void stream_started(struct stream *s);
/* Asks the controlplane for a lease; avoid names an engine that just failed
 * (NULL: none). */
void stream_request_lease(struct stream *s, const char *avoid);
void stream_new_pid(struct stream *s);
/* The engine session's stop command (once). */
void stream_engine_stop(struct stream *s);
/* A viewer left: the stream ends with its last one (multiplex: after the
 * grace period; HLS: by its idle timer). */
void stream_viewer_left(struct stream *s, enum dp_end_reason reason);
/* An end recorded inside a curl callback (s->in_cb) is carried out: true
 * when it was (s is freed then). */
bool stream_carry_out_pending(struct stream *s);

/* playback.c: the engine API call and the playback transfer */
void playback_engine_call(struct stream *s); /* the lease arrived */
/* Engine bytes to the viewers, within a budget per event. An end met on the
 * way is carried out at the end; s may be freed when this returns. */
void playback_pump(struct stream *s);
void playback_release(struct stream *s);

/* relay.c: pipe, ring, write budget */
int relay_init(struct stream *s); /* the ring and the relay's timers */
void relay_release(struct stream *s);
void relay_pipe_open(struct stream *s); /* per-request: the zero-copy pipe */
bool relay_zero_copy(struct stream *s);
ssize_t relay_pump_pipe(struct stream *s);                 /* engine -> pipe -> viewer */
void relay_body(struct stream *s, char *data, size_t len); /* copy path */
void relay_pause(struct stream *s);                        /* the ring is full: backpressure */
void relay_coalesce_start(struct stream *s);
void relay_all(struct stream *s);
void relay_write(struct viewer *v);
void relay_ring_account(struct stream *s, size_t held);

/* continuity.c: failover and the random access points of shared streams */
int continuity_init(struct stream *s); /* at the first byte; nothing for HLS */
void continuity_release(struct stream *s);
void continuity_started(struct stream *s);
/* Copy-path bytes from the engine: whole packets on to relay_body. */
void continuity_body(struct stream *s, char *data, size_t len);
/* The zero-copy path may take over (a held-back packet start goes into the
 * pipe first). */
bool continuity_zero_copy_ready(struct stream *s);
void continuity_piped(struct stream *s, size_t n); /* bytes that went into the pipe */
/* The most bytes the copy path may add to what it reads (held back or
 * inserted packets). */
size_t continuity_extra(const struct stream *s);
/* The engine failed after the 200: true when a failover began (the caller
 * then leaves the stream alone). */
bool continuity_engine_failed(struct stream *s, enum cont_fail kind, const char *why);
/* stream_fail of a started stream: true when continuity took it over. */
bool continuity_on_fail(struct stream *s, int status, const char *reason);
/* The replacement session's first bytes: false when they are no TS. */
bool continuity_new_bytes(struct stream *s, const char *data);
/* A lease granted during a failover: the one held till now (the failed
 * session's, or a replacement's that never started) ends first. */
void continuity_lease_granted(struct stream *s);
const char *continuity_fail_name(enum cont_fail k);

/* viewer.c */
struct viewer *viewer_add(struct stream *s, struct conn *c);
void viewer_end(struct viewer *v, enum dp_end_reason reason, bool close_conn);
void viewer_send_200(struct viewer *v);

/* probe.c */
#define PROBE_STAT_PERIOD 0.5
void probe_on_stat(struct stream *s, const struct engine_stat *st, const char *why);
/* The engine's answer to format=json was an error: the probe answers 200
 * with live:false (true: handled, the stream is gone). */
bool probe_engine_refused(struct stream *s, const char *why);
/* The stream fails before the probe answered: a status with JSON. */
void probe_stream_failed(struct stream *s, int status, const char *reason);
void probe_release(struct stream *s);
/* A stream opened for probes (multiplex): ended once no probe waits on it
 * and no viewer joined it (s->probe_end's callback). */
void probe_on_end(struct ev_loop *loop, ev_timer *t, int revents);
/* Probes waiting on a shared stream (multiplex), answered when it plays
 * (TS or HLS), fails before it played, the engine's stat says playing or
 * error, or it ends; the stream itself is left alone. */
void probe_watchers_playing(struct stream *s);
void probe_watchers_failed(struct stream *s, int status, const char *reason);
void probe_watchers_stat(struct stream *s, const struct engine_stat *st);
void probe_watchers_release(struct stream *s);

/* hls.c */
void hls_after_api(struct stream *s); /* the engine answered format=json */
void hls_release(struct stream *s);   /* the session ends: cancel its fetches */

#endif
