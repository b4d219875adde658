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

struct cp;
struct orch;

enum orch_state { ORCH_UNKNOWN, ORCH_HEALTHY, ORCH_DEGRADED, ORCH_UNREACHABLE };

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
const char *orch_state_name(enum orch_state s);
struct orch_counters {
	enum orch_state state;
	unsigned engines, waiting;
	unsigned by_health[3]; /* healthy, unknown, unhealthy */
	uint64_t provisions_ok, provisions_failed;
};
void orch_counters(const struct orch *o, struct orch_counters *c);

/* Pure: orders candidate engines (exposed for unit tests). */
struct orch_engine {
	char container_id[128];
	char host[256];
	unsigned port;
	int health; /* 0 healthy, 1 unknown, 2 unhealthy */
	bool forwarded;
	double last_usage; /* epoch seconds; 0 = never used */
	unsigned orch_streams;
	unsigned own_leases; /* leases of ours the orchestrator may not count yet */
	bool suspect;        /* failed a stream mid-way a moment ago: passed over */
};
/* Index of the best engine with fewer than `max` streams, not suspect, or
 * -1. */
int orch_select(const struct orch_engine *e, size_t n, unsigned max);
/* Pure, tolerant parsers of the orchestrator's answers (orch_parse.c,
 * fuzzed): missing fields, nulls and wrong types read as absent; numbers
 * clamped. */
/* GET /engines: the usable records (container_id, host, port 1-65535).
 * -EINVAL when the body is not a JSON array; -ENOMEM. */
int orch_parse_engines(const char *body, size_t len, struct orch_engine **ret, size_t *ret_n);
struct orch_status_answer {
	enum orch_state state; /* healthy, degraded (anything else), unreachable (unavailable) */
	char status[32];
	bool can_provision;
	char block_code[64], block_msg[256];
	int block_eta; /* seconds, 0..86400 */
	bool should_wait;
};
/* GET /orchestrator/status. -EINVAL when not a JSON object. */
int orch_parse_status(const char *body, size_t len, struct orch_status_answer *ret);
struct orch_prov_error {
	char code[64], message[256];
	int eta; /* seconds, 0..86400 */
	bool can_retry, should_wait;
};
/* A failed POST /provision/acestream: {"detail": {...}} or a plain string. */
void orch_parse_prov_error(const char *body, size_t len, struct orch_prov_error *ret);
/* Parses an ISO-8601 UTC timestamp ("Z" or "+00:00", any fraction). */
double orch_parse_time(const char *s);

#endif
