/* The orchestrator mode's pure parts (orch_parse.c): engine selection,
 * the tolerant parsers of the orchestrator's answers, timestamps. No I/O,
 * no logging: unit tests and fuzz targets link them without the daemon. */
#ifndef ACEXY_CP_ORCH_PURE_H
#define ACEXY_CP_ORCH_PURE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum orch_state { ORCH_UNKNOWN, ORCH_HEALTHY, ORCH_DEGRADED, ORCH_UNREACHABLE };
const char *orch_state_name(enum orch_state s);

/* A candidate engine. */
struct orch_engine {
	char container_id[128];
	char host[256];
	unsigned port;
	int health; /* 0 healthy, 1 unknown, 2 unhealthy */
	bool forwarded;
	double last_usage; /* epoch seconds; 0 = never used */
	unsigned orch_streams;
	unsigned own_leases; /* leases of ours the orchestrator may not count yet */
	bool suspect;        /* failed a stream mid-way a moment ago: ranked last */
	bool avoid;          /* the engine this request's failover moves away from:
	                      * not chosen */
};
/* Index of the best engine with fewer than `max` streams and not `avoid`,
 * or -1. Suspects rank after every other engine: one content's failure does
 * not lock an engine out for everyone while it is the only one free. */
int orch_select(const struct orch_engine *e, size_t n, unsigned max);
/* Pure, tolerant parsers of the orchestrator's answers (orch_parse.c,
 * fuzzed): missing fields, nulls and wrong types read as absent; numbers
 * clamped. */
/* GET /engines: the usable records (container_id, host, port 1-65535).
 * -EINVAL when the body is not a JSON array; -ENOMEM. */
int orch_parse_engines(const char *body, size_t len, struct orch_engine **ret, size_t *ret_n);
struct orch_status_answer {
	enum orch_state state; /* healthy, or degraded (anything else, "unavailable" too) */
	char status[32];
	bool unavailable; /* status "unavailable": no engine runs (scaled to zero) */
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
/* A successful POST /provision/acestream: its container_id ("" when
 * missing) into cid. -EINVAL when the body is not a JSON object. */
int orch_parse_provisioned(const char *body, size_t len, char *cid, size_t cap);
/* A failed POST /provision/acestream: {"detail": {...}} or a plain string. */
void orch_parse_prov_error(const char *body, size_t len, struct orch_prov_error *ret);
/* Parses an ISO-8601 timestamp ("2026-12-03T06:00:00", any fraction, then
 * nothing (UTC), "Z", or an offset "+hh:mm", "+hhmm", "+hh" / "-..."): epoch
 * seconds, 0 when it does not read as one. */
double orch_parse_time(const char *s);

#endif
