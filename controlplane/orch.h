/* Orchestrator mode: health polling, engine selection with leases,
 * provisioning with retries, fallback to the single engine. */
#ifndef ACEXY_CP_ORCH_H
#define ACEXY_CP_ORCH_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "acexy/ipc.h"
#include "acexy/proto.h"
#include "controlplane/orch_pure.h"

struct cp;
struct orch;

int orch_start(struct cp *cp, struct orch **ret);
void orch_stop(struct orch *o);
/* Takes over an assign request: answers it now or later (lease or refusal). */
void orch_assign(struct orch *o, struct ipc_req *req, uint64_t id, const struct proto_assign *a);
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
struct orch_counters {
	enum orch_state state;
	unsigned engines, waiting;
	unsigned by_health[3]; /* healthy, unknown, unhealthy */
	uint64_t provisions_ok, provisions_failed;
};
void orch_counters(const struct orch *o, struct orch_counters *c);

#endif
