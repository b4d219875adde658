/* The dataplane: worker loops serving viewers, each owning its connections
 * and streams (no lock on the byte path), and a control loop on the main
 * thread that talks to the controlplane and answers the admin socket. */
#ifndef ACEXY_DATAPLANE_H
#define ACEXY_DATAPLANE_H

#include <ev.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "acexy/settings.h"

struct curl_ev;
struct conn;
struct stream;
struct dp;

/* A histogram of seconds for /metrics: DP_HIST_BOUNDS upper bounds, then
 * +Inf; the bounds are the caller's (one table per histogram). */
#define DP_HIST_BOUNDS 11
struct dp_hist {
	_Atomic uint64_t bucket[DP_HIST_BOUNDS + 1];
	_Atomic uint64_t sum_us, count;
};
void dp_hist_observe(struct dp_hist *h, const double bounds[DP_HIST_BOUNDS], double seconds);
extern const double dp_ttfb_bounds[DP_HIST_BOUNDS];
extern const double dp_failover_gap_bounds[DP_HIST_BOUNDS];

/* Process-wide counters, read by /metrics and /ace/status. */
struct dp_stats {
	_Atomic uint64_t conns_accepted;
	_Atomic uint64_t conns_open;
	_Atomic uint64_t requests;
	_Atomic uint64_t streams_started; /* 200 sent */
	_Atomic uint64_t streams_live;
	_Atomic uint64_t streams_open; /* starting or live (ACEXY_MAX_STREAMS) */
	_Atomic uint64_t upstream_errors;
	_Atomic uint64_t viewers_dropped; /* multiplex: a whole ring behind */
	_Atomic uint64_t handoffs;        /* multiplex: viewers moved to the owning loop */
	_Atomic uint64_t viewer_slots;    /* stream/HLS requests served (ACEXY_MAX_VIEWERS) */
	_Atomic uint64_t conns_idle;      /* connections waiting for a request */
	_Atomic uint64_t conns_reclaimed; /* idle ones closed to seat a new one */
	_Atomic uint64_t ring_bytes;
	_Atomic uint64_t status[6];    /* responses by class 1xx..5xx (index 1..5) */
	_Atomic uint64_t ended[12];    /* by enum dp_end_reason */
	struct dp_hist ttfb;           /* request to first stream byte */
	_Atomic uint64_t bad_messages; /* from the controlplane or acexyctl, refused */
	_Atomic uint64_t failovers[3]; /* by enum cont_fail: eof, error, stall */
	struct dp_hist failover_gap;   /* the old engine's last byte to the new one's first */
};

enum dp_end_reason {
	DP_END_CLIENT_GONE,
	DP_END_EMPTY_TIMEOUT,
	DP_END_WRITE_TIMEOUT,
	DP_END_UPSTREAM_EOF,
	DP_END_UPSTREAM_ERROR,
	DP_END_STOPPED,
	DP_END_DRAIN_TIMEOUT,
	DP_END_HLS_IDLE,
	DP_END_SHUTDOWN,
	DP_END_DATAPLANE_LOST,
	DP_END_FAILOVER, /* an engine session replaced mid-stream (the stream goes on) */
	DP_END_COUNT_
};
const char *dp_end_reason_name(enum dp_end_reason r);

/* Commands from the control loop to a worker, carried by a bounded queue. */
enum worker_cmd_type { WCMD_STOP_LEASE, WCMD_DRAIN_END, WCMD_SHUTDOWN, WCMD_ADOPT };
struct worker_cmd {
	enum worker_cmd_type type;
	uint64_t lease_id;
	enum dp_end_reason reason;
	/* WCMD_ADOPT: a viewer connection handed over by another loop */
	struct conn_handoff *handoff;
};
#define WORKER_CMDQ_MAX 256
#define SCRATCH_SIZE    (64 * 1024) /* a worker's buffer for engine body reads */

struct worker {
	struct dp *dp;
	int id;
	pthread_t thread;
	struct ev_loop *loop;
	int listen_fd;
	ev_io accept_w;
	ev_timer accept_pause; /* after EMFILE */
	ev_timer stop_check;   /* shutting down: until the last transfer ends */
	ev_async wake;         /* commands from the control loop */
	pthread_mutex_t cmd_mu;
	struct worker_cmd cmdq[WORKER_CMDQ_MAX];
	unsigned cmd_head, cmd_len;
	struct curl_ev *curl;
	char *scratch;                      /* SCRATCH_SIZE bytes: engine body reads on this loop */
	struct ipc_mailbox *mailbox;        /* replies from the controlplane land here */
	struct conn *conns;                 /* doubly linked list of open connections */
	struct conn *idle_head, *idle_tail; /* those waiting for a request, oldest first */
	unsigned nidle;
	double reclaim_logged;  /* when an idle connection's reclaim was last logged */
	struct stream *streams; /* engine sessions owned by this loop */
	_Atomic uint64_t nconns;
	_Atomic uint64_t nstreams;
	/* written by this worker only (no shared cache line on the byte path);
	 * dp_bytes_relayed() sums them */
	_Atomic uint64_t bytes_relayed;
	_Atomic uint64_t upstream_reads; /* engine body reads that brought bytes */
	_Atomic uint64_t upstream_zcopy; /* bytes moved engine -> viewer by splice */
	bool stopping;
};

struct dp {
	struct acexy_config *cfg;
	char instance[96];
	int nworkers;
	struct worker *workers;
	struct ev_loop *main_loop;
	struct cc_client *cc; /* controlplane client (control_glue.c) */
	struct dp_admin *admin;
	struct playlist *playlist; /* /ace/playlist.m3u (playlist.h), NULL when none */
	_Atomic bool draining;
	_Atomic bool shutting_down;
	struct dp_stats stats;
	double start_time;
	/* live stream registry for hello/heartbeats and acexyctl (not the byte path) */
	pthread_mutex_t reg_mu;
	struct stream_rec *streams;
};

/* A live stream as the control loop sees it (copied out of the worker). */
struct stream_rec {
	struct stream_rec *next;
	uint64_t lease_id;
	int worker;
	char content[160];
	char engine[160];
	char playback_session_id[128];
	/* what a restarted controlplane needs to rebuild the lease */
	char key_type[16];
	char key[512];
	char scheme[8];
	char host[256];
	uint16_t port;
	char container_id[128];
	bool fallback;
	char stat_url[1024];
	char command_url[1024];
	bool is_live;
	double started;
	_Atomic uint64_t bytes;
	_Atomic uint32_t viewers;
	_Atomic uint32_t failovers; /* engine switches so far */
	/* the engine's own view (stat_poll.h), written by the owning worker
	 * under reg_mu; stat_at is 0 until the engine answered */
	bool playing; /* the first stream bytes arrived; before: prebuffering */
	char stat_status[32];
	char stat_error[96]; /* the last read's failure, "" after a good one */
	int64_t stat_peers, stat_speed_down, stat_speed_up; /* KB/s */
	int64_t stat_downloaded;
	double stat_progress;
	double stat_at;
};

/* worker.c */
int worker_start(struct dp *dp, struct worker *w, int id);
int worker_run(struct worker *w);
bool worker_post(struct worker *w, const struct worker_cmd *cmd);
void worker_join(struct worker *w);
double dp_now(void); /* monotonic seconds */
uint64_t dp_bytes_relayed(struct dp *dp);
uint64_t dp_upstream_reads(struct dp *dp);
uint64_t dp_upstream_zcopy(struct dp *dp);

/* conn.c: connections and request routing */
void conn_accept_cb(struct ev_loop *loop, ev_io *w, int revents);
void worker_close_all(struct worker *w, enum dp_end_reason reason);
/* stream.c: the controlplane stopped a lease */
void worker_stop_lease(struct worker *w, uint64_t lease_id, enum dp_end_reason reason);
/* stream.c: ends a stream (before its 200: a 502/503 answer) */
void stream_end_with(struct stream *s, enum dp_end_reason reason);

#endif
