/* The controlplane's leases: one engine slot given to one stream of one
 * dataplane. Created once here (an assignment or a dataplane's hello after a
 * restart), found by id in O(1) (hash), listed in creation order (newest
 * first), removed in O(1). Pure: no I/O, no logging, no clock (callers pass
 * the time). */
#ifndef ACEXY_CP_LEASE_H
#define ACEXY_CP_LEASE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "acexy/proto.h"

enum lease_state { LEASE_ASSIGNED, LEASE_STARTED };

struct cp_lease {
	struct cp_lease *next, *prev; /* the table's list, newest first */
	struct cp_lease *id_next;     /* hash chain by id */
	struct cp_lease *req_next;    /* hash chain by assign request */
	uint64_t id;
	char instance[96];
	char key_type[16];
	char key[512];
	char scheme[8];
	char host[256];
	unsigned port;
	char container_id[128];
	bool fallback;
	enum lease_state state;
	char playback_session_id[128];
	char stat_url[1024];
	char command_url[1024];
	bool is_live;
	char stream_id[200]; /* reported to the orchestrator ("" = not reported) */
	uint64_t bytes;
	unsigned viewers;
	unsigned failovers; /* engine switches of the dataplane's stream before this lease */
	/* rate from the heartbeats' byte counts */
	double rate_bps;
	uint64_t rate_bytes;
	double rate_at;
	/* the engine's view, as the dataplane's heartbeats report it */
	double stat_at;
	char stat_status[40];
	int64_t stat_peers, stat_down_kbps, stat_up_kbps;
	double created;
	uint64_t assign_req; /* the request id that made it, for resends (0: rebuilt) */
};

#define LEASE_ENGINE_BUCKETS 256

struct lease_engine_count; /* leases per orchestrator engine (lease.c) */

struct lease_table {
	struct cp_lease *head;
	size_t count;
	struct cp_lease **by_id, **by_req;
	size_t nbuckets;  /* a power of two */
	uint64_t last_id; /* ids are never handed out twice */
	struct lease_engine_count *by_engine[LEASE_ENGINE_BUCKETS];
};

/* What an assignment decided. */
struct lease_spec {
	const char *instance, *key_type, *key;
	const char *scheme, *host, *container_id;
	unsigned port;
	bool fallback;
	uint64_t assign_req;
};

void lease_table_init(struct lease_table *t);
/* Frees every lease. */
void lease_table_clear(struct lease_table *t);
/* A new lease with the next id; NULL when out of memory. */
struct cp_lease *lease_create(struct lease_table *t, const struct lease_spec *s, double now);
/* The lease a dataplane still relays (its hello after our restart), with
 * the dataplane's id; NULL when the id is 0 or already known, or out of
 * memory. Later new ids are above it. */
struct cp_lease *lease_rebuild(struct lease_table *t, const char *instance,
                               const struct proto_stream *s, double now);
struct cp_lease *lease_find(const struct lease_table *t, uint64_t id);
/* The lease an assign request of this dataplane already made (a resend). */
struct cp_lease *lease_find_request(const struct lease_table *t, const char *instance,
                                    uint64_t req);
/* Unlinks and frees. */
void lease_remove(struct lease_table *t, struct cp_lease *l);
/* Leases on an orchestrator engine (not the fallback), O(1). */
unsigned lease_count_on(const struct lease_table *t, const char *container_id);
/* The row acexyctl streams shows. */
json_t *lease_json(const struct cp_lease *l, double now);

#endif
