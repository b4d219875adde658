/* The controlplane: engine authority and bookkeeping on one libev loop. */
#ifndef ACEXY_CP_H
#define ACEXY_CP_H

#include <ev.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "acexy/clock.h"
#include "acexy/ipc.h"
#include "acexy/settings.h"
#include "controlplane/debuglog.h"
#include "controlplane/lease.h"

#define CP_MAX_COMMANDS 1024 /* queued per dataplane; beyond: refused, logged */
/* Per-message caps on what a dataplane declares (a dataplane sends at most
 * 2,000 streams; a peer that sends more than these is refused at once). */
#define CP_HELLO_STREAMS_MAX 4096
#define CP_HELLO_ENDED_MAX   4096
/* Lease ids stay below 2^53 (exact in JSON). A controlplane starts its ids
 * at (seconds since 2025-01-01) << 20, so a restarted one never hands out
 * an id an earlier one gave (unless it gave 2^20 a second). */
#define CP_LEASE_ID_MAX   (1ULL << 53)
#define CP_LEASE_ID_EPOCH 1735689600

struct cp_command {
	char cmd[16]; /* stop, drain, resume */
	uint64_t lease;
};

struct cp_dataplane {
	struct cp_dataplane *next;
	char instance[96];
	char software[32];
	uint32_t pipe; /* the connection that said hello (0 = gone) */
	char addr[64]; /* its peer address */
	double first_seen, last_seen;
	bool draining;
	unsigned ncmds;
	struct cp_command cmds[CP_MAX_COMMANDS];
};

struct cp {
	struct acexy_config *cfg;
	struct ev_loop *loop;
	char container_id[128];
	struct ipc_server *control;
	struct ipc_server *admin;
	struct cp_dataplane *dataplanes;
	struct lease_table leases; /* lease.c */
	struct cp_peers *peers;    /* connections on the control socket */
	ev_timer lost_timer;
	double lost_tick_at; /* when on_lost_tick last ran: a gap is our own stall */
	uint64_t stalls;     /* our own stalls (>1 s) not counted as dataplane silence */
	double start_time;
	bool ready;
	/* counters */
	uint64_t assignments, refusals, dataplanes_lost, bad_messages;
	uint64_t hello_refused;   /* wrong or missing ACEXY_CONTROL_TOKEN */
	uint64_t hello_dropped;   /* refusals beyond the rate: connection closed */
	uint64_t claims_refused;  /* lease ids or URLs a dataplane declared, not taken */
	uint64_t instance_in_use; /* hellos for a name another connection holds */
	double refused_log_at;    /* refusals are logged at most once a second */
	unsigned refused_unlogged;
	struct cp_http *http;
	struct orch *orch;         /* NULL in single-engine mode */
	struct fallback *fallback; /* the single engine's health probe */
	struct events *events;     /* orchestrator mode: stream events + spool */
	struct curl_ev *ce;        /* engine stop commands for lost dataplanes */
	struct debuglog *dl;       /* JSON Lines debug logs (DEBUG_MODE), or NULL */
	char start_error[400];     /* why cp_start failed, when it says */
};

/* A debug-log record (DEBUG_MODE): the fields are packed only when enabled. */
#define CP_DEBUG(cp, cat, event, ...) DEBUGLOG_PACK((cp)->dl, (cat), (event), __VA_ARGS__)

int cp_start(struct cp *cp);
struct cp_dataplane *cp_dataplane_find(struct cp *cp, const char *instance);
struct cp_dataplane *cp_dataplane_touch(struct cp *cp, const char *instance);
/* Is `instance` known and bound to this connection? */
struct cp_dataplane *cp_dataplane_bound(struct cp *cp, const char *instance, uint32_t pipe);
/* A lease ends: events, logs, removal. */
void cp_lease_end(struct cp *cp, struct cp_lease *lease, const char *reason);
/* Is this engine session a live lease's (then no one else may end it)? */
bool cp_session_leased(struct cp *cp, const char *container_id, const char *playback_session_id);
/* Is host:port the fallback engine or one the orchestrator lists? */
bool cp_engine_known(struct cp *cp, const char *host, unsigned port);
/* cp_hello.c: hello on the control socket (token, binding, rebuild) */
void cp_handle_hello(struct cp *cp, struct ipc_req *req, const struct proto_msg *m, uint32_t pipe);
/* Queues a command for the dataplane's next heartbeat reply; false when its
 * queue is full (logged). */
bool cp_queue_command(struct cp_dataplane *d, const char *cmd, uint64_t lease);
/* cp_admin.c: admin.sock requests (the PROTO_ADMIN_COMMANDS table) */
void cp_on_admin(void *ud, struct ipc_req *req, const uint8_t *buf, size_t len);
void cp_stop(struct cp *cp);

/* cp_http.c: /livez, /readyz, /metrics on ACEXY_CP_LISTEN_ADDR */
int cp_http_start(struct cp *cp);
void cp_http_stop(struct cp *cp);
void cp_metrics_text(struct cp *cp, char **ret, size_t *ret_len);

#endif
