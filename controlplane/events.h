/* Stream events to the orchestrator: at least once, never harmful
 * (DESIGN.md "Events", CONTRACTS.md §2).
 *
 * - stream_started carries the engine's container_id and labels.stream_id,
 *   an id derived from the engine and its playback session (the same after a
 *   controlplane restart, so a resend is idempotent).
 * - stream_ended waits until the stream's stream_started was acknowledged,
 *   and is sent only when GET /streams?status=started&container_id=… still
 *   lists that stream id: an orchestrator that lost its state (or ended the
 *   stream itself) would otherwise end the container's most recent stream,
 *   someone else's. Such a skip is counted and logged.
 * - Every event is in the spool (ACEXY_STATE_DIR/events.spool) until it is
 *   delivered, skipped or rejected; failures retry with back-off, at once
 *   when the orchestrator turns healthy again. An event whose spool write
 *   failed (a full disk) is kept in memory and spooled, in order, once the
 *   disk takes it again.
 * - Fallback-engine streams are never reported. */
#ifndef ACEXY_CP_EVENTS_H
#define ACEXY_CP_EVENTS_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include <ev.h>

struct cp_lease;
struct debuglog;
struct orch;
struct acexy_config;
struct events;

/* Reports stream events to the orchestrator (orch_http), spooled under
 * ACEXY_STATE_DIR. */
int events_start(struct ev_loop *loop, const struct acexy_config *cfg, struct debuglog *dl,
                 struct orch *orch, struct events **ret, char *err, size_t errcap);
void events_stop(struct events *e);
/* Fills lease->stream_id and queues stream_started (orchestrator engines). */
void events_stream_started(struct events *e, struct cp_lease *l);
/* Queues stream_ended for a lease that got a stream_id. */
void events_stream_ended(struct events *e, const struct cp_lease *l, const char *reason);
/* A stream that ended while this controlplane did not know its lease (it
 * restarted meanwhile): ended by container and engine session. */
void events_stream_ended_unleased(struct events *e, const char *container_id,
                                  const char *playback_session_id, const char *reason);
/* The stream id for an engine session (pure; for rebuilt leases too). */
void events_stream_id(const char *container_id, const char *playback_session_id, char *out,
                      size_t cap);
json_t *events_status_json(const struct events *e);

struct events_counters {
	uint64_t pending, delivered, skipped_unknown, dropped, rejected, retries, spool_errors;
	uint64_t spool_bytes;
	uint64_t in_memory; /* pending but not in the spool (its disk was full) */
};
void events_counters(const struct events *e, struct events_counters *c);

#endif
