/* Orchestrator mode: health polling, engine selection with leases,
 * provisioning with retries, fallback to the single engine. */
#ifndef ACEXY_CP_ORCH_H
#define ACEXY_CP_ORCH_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <ev.h>

#include "acexy/proto.h"
#include "controlplane/orch_pure.h"

struct orch;
struct curl_ev;
struct debuglog;
struct fallback;
struct acexy_config;
struct lease_table;

/* What orch decides for one request: an engine to lease, or a refusal. */
struct orch_decision {
	bool lease;
	const char *scheme, *host, *container_id; /* lease */
	unsigned port;
	bool fallback;
	const char *reason; /* refusal */
	int retry_after;
};

/* What the controlplane gives the orchestrator mode (narrow: no cp.c
 * internals). decided() is called once per request given to orch_assign,
 * at once or later: it leases the engine and answers the dataplane, and
 * returns the lease id (0: it could not and answered a refusal). */
struct orch_env {
	struct ev_loop *loop;
	const struct acexy_config *cfg;
	struct curl_ev *ce;
	struct debuglog *dl;              /* may be NULL */
	const struct fallback *fallback;  /* the fallback engine's probe */
	const struct lease_table *leases; /* read: our own leases per engine */
	const char *proxy_id;             /* labels.acexy.proxy of provisioned engines */
	uint64_t (*decided)(void *ud, void *req, const struct orch_decision *d);
	void *ud;
};

int orch_start(const struct orch_env *env, struct orch **ret);
void orch_stop(struct orch *o);
/* Takes over an assign request (`req`: the caller's token, handed back to
 * env.decided exactly once); `a` is copied where it must wait. */
void orch_assign(struct orch *o, void *req, const struct proto_assign *a);
/* A call to the orchestrator (base URL, Bearer key) for other modules:
 * post NULL = GET. fn gets curl's result, the HTTP status and the body. */
typedef void (*orch_http_fn)(void *ud, int curl_result, long http_status, const char *body,
                             size_t len);
int orch_http(struct orch *o, const char *what, const char *path, const char *post, long timeout_ms,
              orch_http_fn fn, void *ud);
enum orch_state orch_get_state(const struct orch *o);
/* For acexyctl status/engines. */
json_t *orch_status_json(struct orch *o);
json_t *orch_engines_json(struct orch *o);
/* Does the orchestrator list an engine at host:port? */
bool orch_engine_known(struct orch *o, const char *host, unsigned port);
struct orch_counters {
	enum orch_state state;
	unsigned engines, waiting;
	unsigned by_health[3]; /* healthy, unknown, unhealthy */
	uint64_t provisions_ok, provisions_failed;
};
void orch_counters(const struct orch *o, struct orch_counters *c);

#endif
