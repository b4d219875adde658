/* The orchestrator mode's own state, shared by its modules (orch.c:
 * polling, selection, waiting requests; orch_provision.c: provisioning).
 * Nothing outside orch*.c includes it. */
#ifndef ACEXY_CP_ORCH_INT_H
#define ACEXY_CP_ORCH_INT_H

#include <curl/curl.h>
#include <ev.h>
#include <stdbool.h>
#include <stdint.h>

#include "acexy/http_fetch.h"
#include "acexy/proto.h"
#include "controlplane/orch.h"

#define BODY_MAX             (1024 * 1024)
#define ENGINES_TTL          2.0
#define PROVISION_TIMEOUT_MS 35000L
#define CALL_TIMEOUT_MS      5000L
#define DEFAULT_RETRY        5

struct waiter {
	struct waiter *next;
	void *req; /* the caller's token for this request */
	/* the request, copied: a borrows its strings from the arrays */
	char instance[96], key_type[16], key[512], avoid[300];
	struct proto_assign a;
	double deadline;
	double t0; /* arrival */
};

#define SUSPECT_MAX 16
#define SUSPECT_S   60.0 /* how long a failed engine ranks last */

struct orch {
	struct orch_env env; /* what the controlplane gives: narrow, no cp.c internals */
	struct curl_ev *ce;
	char base[600];
	char auth[700];
	enum orch_state state;
	bool status_inflight, engines_inflight;
	bool can_provision;
	bool unavailable; /* it says "unavailable": no engine runs (scaled to zero) */
	char status[32];  /* its last status word */
	char block_code[64], block_msg[256];
	int block_eta;
	bool block_should_wait;
	struct orch_engine *engines;
	size_t nengines;
	double engines_at;
	ev_timer poll;
	ev_timer tick; /* waiters' deadlines, provisioning retries, readiness polls */
	struct waiter *waiting;
	/* provisioning */
	bool provisioning;
	double prov_retry_at; /* 0 = none scheduled */
	char prov_container[128];
	double prov_started;
	bool prov_ready_check;
	int last_eta;
	uint64_t provisions_ok, provisions_failed;
	unsigned prov_attempt;
	/* engines a dataplane's stream failed on a moment ago (failover): not
	 * chosen while they are suspect */
	struct {
		char id[300]; /* container id, or host:port */
		double until;
	} suspects[SUSPECT_MAX];
	/* the request being answered, for the debug logs */
	const struct proto_assign *cur;
	double cur_t0;
};

/* A call to the orchestrator (or a new engine's get_status) in flight. */
struct call {
	struct orch *o;
	const char *body; /* the answer, while done runs */
	size_t len;
	void (*done)(struct orch *o, struct call *c, CURLcode res, long code);
	orch_http_fn ext; /* orch_http's callers */
	void *ext_ud;
	char what[32];
	char url[700];
};

/* orch.c */
int orch_call(struct orch *o, const char *what, const char *path, const char *post, long timeout_ms,
              void (*done)(struct orch *, struct call *, CURLcode, long));
void orch_call_done(void *ud, const struct http_fetch_result *r);
void orch_engines_fetch(struct orch *o);
void orch_refuse_all(struct orch *o, const char *reason, int eta);
/* orch_provision.c */
void orch_provision_start(struct orch *o);
void orch_check_new_engine(struct orch *o);

#endif
