/* The dataplane's view of the controlplane, as the workers use it. The
 * implementation (control_glue.c, with its client of the control socket,
 * struct cc_client) speaks proto/ over acexy/ipc.h; every callback runs on
 * the calling worker's loop. */
#ifndef ACEXY_DP_CONTROL_H
#define ACEXY_DP_CONTROL_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "acexy/debuglog_table.h"
#include "acexy/ipc.h"
#include "dataplane/dataplane.h"

struct dp_lease {
	uint64_t lease_id;
	char scheme[8];
	char host[256];
	uint16_t port;
	char container_id[128];
	bool fallback;
};

/* status: 0 = lease granted; -EAGAIN = refused (reason, retry_after set);
 * -ETIMEDOUT / -ENOTCONN = no answer from a controlplane. */
typedef void (*dp_assign_cb)(void *ud, int status, const struct dp_lease *lease, const char *reason,
                             unsigned retry_after);

/* Starts the controlplane client and the admin socket on the main loop. */
int dp_control_start(struct dp *dp);
/* Runs the main loop up to `seconds` until pending reports are delivered. */
void dp_control_flush(struct dp *dp, double seconds);
void dp_control_stop(struct dp *dp);
bool dp_control_connected(struct dp *dp);
/* Why the controlplane refused this dataplane's hello (wrong token, name in
 * use), "" when it did not. Main loop only. */
const char *dp_control_refused(struct dp *dp);
/* A command as the controlplane sends it (stop with a lease, drain, resume). */
void dp_control_apply(struct dp *dp, const char *cmd, uint64_t lease);
/* Stream ends waiting for a controlplane. */
unsigned dp_control_pending_ends(struct dp *dp);
/* admin.c: a request on the dataplane's own admin socket (ipc_request_fn). */
void dp_admin_request(void *ud, struct ipc_req *req, const uint8_t *buf, size_t len);
/* avoid: the engine (container id, else host:port) of a session that just
 * failed, for the controlplane to pass over when another can serve; NULL. */
int dp_control_assign(struct worker *w, const char *key_type, const char *key, const char *params,
                      const char *avoid, uint32_t timeout_ms, dp_assign_cb cb, void *ud);

struct dp_session_info {
	const char *playback_session_id;
	const char *stat_url;
	const char *command_url;
	const char *playback_url;
	const char *infohash;
	bool is_live;
};
void dp_control_session_started(struct worker *w, uint64_t lease_id,
                                const struct dp_session_info *info);
void dp_control_stream_ended(struct worker *w, const struct dp_lease *lease,
                             const char *playback_session_id, enum dp_end_reason reason,
                             uint64_t bytes, uint64_t duration_ms);

/* A record for the controlplane's JSON Lines debug logs (DEBUG_MODE only;
 * record is stolen and must carry "event"). Fire and forget. */
void dp_control_debug_event(struct worker *w, enum debuglog_cat cat, json_t *record);

/* Registry of live streams for hello/heartbeats/admin (not the byte path). */
struct stream_rec *dp_registry_add(struct dp *dp, const struct dp_lease *lease, int worker,
                                   const char *key_type, const char *key, const char *engine,
                                   const struct dp_session_info *info);
void dp_registry_remove(struct dp *dp, struct stream_rec *rec);
struct engine_stat;
/* The stream's first bytes arrived. */
void dp_registry_set_playing(struct dp *dp, struct stream_rec *rec);
/* A failover's new lease: stop commands for it find the stream. */
void dp_registry_set_lease(struct dp *dp, struct stream_rec *rec, uint64_t lease_id);
/* An engine stat read: its answer (ok) or why it failed. */
void dp_registry_set_stat(struct dp *dp, struct stream_rec *rec, const struct engine_stat *st,
                          const char *why);
/* Readers hold reg_mu. "prebuffering" or "playing". */
const char *dp_registry_state(const struct stream_rec *r);
/* The engine's last word on the stream (status, peers, speed_down/up in
 * KB/s, downloaded, progress, age_s, error), or null before the first. */
json_t *dp_registry_engine_json(const struct stream_rec *r, double now);

#endif
