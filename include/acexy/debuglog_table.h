/* The one table of JSON Lines debug-log categories (DEBUG_MODE). The writer
 * (controlplane/debuglog.c), its file names and doc/DEBUG_MODE.md are all
 * derived from it; scripts/gen-debug-doc.sh regenerates the doc.
 *
 * ACEXY_DEBUGLOG_CATEGORIES(C): C(ID, NAME, EVENTS, HELP, FIELDS)
 *   ID      enum suffix: DEBUGLOG_<ID>
 *   NAME    category name; its file is DEBUG_LOG_DIR/<NAME>.jsonl
 *   EVENTS  the values of "event" in this category ("" = free text)
 *   HELP    one line for the doc
 *   FIELDS  a macro F-list: FIELDS(F) with F(NAME, TYPE, MEANING)
 *
 * TYPE is a JSON type: string, integer, number, boolean, array, object.
 * Every record also carries ACEXY_DEBUGLOG_COMMON_FIELDS. A field may be
 * absent or null when it does not apply or is unknown.
 */
#ifndef ACEXY_DEBUGLOG_TABLE_H
#define ACEXY_DEBUGLOG_TABLE_H

/* clang-format off */
#define ACEXY_DEBUGLOG_COMMON_FIELDS(F) \
F("ts",       "string", "UTC wall-clock time of the record, ISO-8601 with milliseconds: 2025-01-02T03:04:05.678Z") \
F("category", "string", "the category, the same as the file name without .jsonl") \
F("event",    "string", "what happened (see each category)")

#define ACEXY_DEBUGLOG_FIELDS_SESSION(F) \
F("mode",     "string", "orchestrator or single (the fallback engine only)") \
F("version",  "string", "acexy version") \
F("instance", "string", "this controlplane's identity (ACEXY_CONTAINER_ID, else cgroup/hostname)") \
F("settings", "object", "summary of the settings in force (secrets left out)") \
F("uptime_s", "number", "seconds since the start (controlplane_stopped)")

#define ACEXY_DEBUGLOG_FIELDS_REQUESTS(F) \
F("instance",    "string",  "the dataplane instance that asked") \
F("key_type",    "string",  "how the content is named: id, content_id, infohash, url, magnet") \
F("key",         "string",  "the content key") \
F("outcome",     "string",  "lease, refusal or waiting (held until an engine is ready)") \
F("lease",       "integer", "the lease id when outcome is lease") \
F("reason",      "string",  "why it was refused or is waiting") \
F("retry_after", "integer", "seconds the viewer is told to wait (refusal)") \
F("wait_ms",     "number",  "time from the request to this answer")

#define ACEXY_DEBUGLOG_FIELDS_ENGINE_SELECTION(F) \
F("lease",          "integer", "the lease being made") \
F("key",            "string",  "the content key") \
F("candidates",     "array",   "every engine considered, one object each (see below)") \
F("winner",         "string",  "container_id of the chosen engine") \
F("why",            "string",  "why the winner won (or why none could)") \
F("max_per_engine", "integer", "ACEXY_MAX_STREAMS_PER_ENGINE in force") \
F("took_ms",        "number",  "time the selection took")

/* One element of engine_selection's "candidates". */
#define ACEXY_DEBUGLOG_FIELDS_CANDIDATE(F) \
F("container_id", "string",  "the engine's container") \
F("host",         "string",  "the engine's host") \
F("port",         "integer", "the engine's port") \
F("health",       "string",  "healthy, unknown or unhealthy") \
F("load",         "integer", "streams on it: the orchestrator's count plus our leases it may not know yet") \
F("forwarded",    "boolean", "the engine has a forwarded port") \
F("last_usage",   "number",  "epoch seconds of its last use (0 = never)") \
F("eligible",     "boolean", "it could have been chosen") \
F("why",          "string",  "why it is not eligible, or its rank")

#define ACEXY_DEBUGLOG_FIELDS_PROVISIONING(F) \
F("attempt",      "integer", "1 for the first attempt, then 2, 3...") \
F("waiting",      "integer", "requests waiting for the engine (attempt)") \
F("http_status",  "integer", "the orchestrator's HTTP status (0 = no answer)") \
F("code",         "string",  "the orchestrator's error code") \
F("message",      "string",  "the orchestrator's error message") \
F("eta_s",        "number",  "the orchestrator's estimate of when provisioning can succeed") \
F("can_retry",    "boolean", "the orchestrator says retrying may succeed") \
F("should_wait",  "boolean", "the orchestrator says to wait before retrying") \
F("wait_s",       "number",  "how long until the next attempt (retry_scheduled)") \
F("container_id", "string",  "the new engine's container (success, engine_ready)") \
F("took_ms",      "number",  "time the call, or the wait for readiness, took")

#define ACEXY_DEBUGLOG_FIELDS_ORCHESTRATOR_HEALTH(F) \
F("from",           "string",  "previous state: unknown, healthy, degraded, unreachable") \
F("to",             "string",  "new state") \
F("status",         "string",  "the orchestrator's own status text") \
F("can_provision",  "boolean", "the orchestrator accepts provisioning requests") \
F("blocked_code",   "string",  "why provisioning is blocked (code)") \
F("blocked_reason", "string",  "why provisioning is blocked (text)") \
F("eta_s",          "number",  "when provisioning is expected to be possible again") \
F("error",          "string",  "why the orchestrator could not be reached or understood") \
F("http_status",    "integer", "HTTP status of the failed status call (0 = no answer)")

#define ACEXY_DEBUGLOG_FIELDS_STREAMS(F) \
F("lease",        "integer", "the lease of the stream") \
F("stream_id",    "string",  "the id reported to the orchestrator") \
F("key",          "string",  "the content key") \
F("container_id", "string",  "the engine's container") \
F("engine",       "string",  "the engine's host:port") \
F("bytes",        "integer", "bytes relayed") \
F("duration_ms",  "number",  "how long the stream lasted") \
F("reason",       "string",  "why it ended (client_gone, empty_timeout, ...) or why an event was skipped") \
F("http_status",  "integer", "the orchestrator's answer to the event (0 = no answer)") \
F("attempts",     "integer", "delivery attempts of the event so far")

#define ACEXY_DEBUGLOG_FIELDS_DISCONNECTS(F) \
F("instance", "string",  "the dataplane instance") \
F("lease",    "integer", "the lease (viewer_gone)") \
F("streams",  "integer", "streams that instance had open") \
F("silent_s", "number",  "seconds since its last heartbeat") \
F("reason",   "string",  "why it is considered gone")

#define ACEXY_DEBUGLOG_FIELDS_ERRORS(F) \
F("error",  "string", "what failed, short") \
F("where",  "string", "the module or operation") \
F("detail", "string", "more context (errno text, a body excerpt)")

#define ACEXY_DEBUGLOG_FIELDS_STRESS(F) \
F("took_ms",      "number",  "how long the operation took") \
F("threshold_ms", "number",  "the threshold it crossed") \
F("lease",        "integer", "the lease concerned") \
F("key",          "string",  "the content key")

#define ACEXY_DEBUGLOG_FIELDS_FAILOVER(F) \
F("instance",   "string",  "the dataplane instance") \
F("key",        "string",  "the content key") \
F("lease",      "integer", "the lease concerned (detected: the failed one; replaced: the new one)") \
F("reason",     "string",  "the failure: eof, error or stall") \
F("old_engine", "string",  "the engine that failed") \
F("engine",     "string",  "the engine now serving (replaced)") \
F("failovers",  "integer", "switches of this stream so far") \
F("why",        "string",  "the error, or why the stream was given up")

#define ACEXY_DEBUGLOG_CATEGORIES(C) \
C(SESSION,             "session",             "controlplane_started, controlplane_stopped",                                  "start and stop of the controlplane, with the settings in force", ACEXY_DEBUGLOG_FIELDS_SESSION) \
C(REQUESTS,            "requests",            "assign",                                                                      "every assign request from a dataplane and its answer", ACEXY_DEBUGLOG_FIELDS_REQUESTS) \
C(ENGINE_SELECTION,    "engine_selection",    "selected, none_free, fallback",                                               "which engines were considered for a lease and why one won", ACEXY_DEBUGLOG_FIELDS_ENGINE_SELECTION) \
C(PROVISIONING,        "provisioning",        "attempt, success, failure, retry_scheduled, engine_ready, gave_up",          "asking the orchestrator for a new engine, its answers and the retries", ACEXY_DEBUGLOG_FIELDS_PROVISIONING) \
C(ORCHESTRATOR_HEALTH, "orchestrator_health", "state_change, blocked, unblocked",                                            "the orchestrator's reachability and whether it can provision", ACEXY_DEBUGLOG_FIELDS_ORCHESTRATOR_HEALTH) \
C(STREAMS,             "streams",             "started, ended, event_sent, event_failed, event_skipped",                    "streams starting and ending, and their events to the orchestrator", ACEXY_DEBUGLOG_FIELDS_STREAMS) \
C(FAILOVER,            "failover",            "detected, replaced, retry, gave_up",                                          "mid-stream engine failures and how each was answered (a new engine session, or the end)", ACEXY_DEBUGLOG_FIELDS_FAILOVER) \
C(DISCONNECTS,         "disconnects",         "dataplane_lost, viewer_gone",                                                 "dataplanes that went silent and viewers that left", ACEXY_DEBUGLOG_FIELDS_DISCONNECTS) \
C(ERRORS,              "errors",              "",                                                                            "errors worth a record of their own", ACEXY_DEBUGLOG_FIELDS_ERRORS) \
C(STRESS,              "stress",              "slow_selection, slow_first_byte, slow_provisioning",                          "operations that took longer than their threshold", ACEXY_DEBUGLOG_FIELDS_STRESS)
/* Objects nested in records: S(WHERE, HELP, FIELDS) */
#define ACEXY_DEBUGLOG_SUBRECORDS(S) \
S("engine_selection.candidates[]", "one engine considered by a selection", ACEXY_DEBUGLOG_FIELDS_CANDIDATE)
/* clang-format on */

/* The categories by id, for both daemons (the dataplane sends records to
 * the controlplane's writer by category). */
enum debuglog_cat {
#define DEBUGLOG_ENUM_(id, name, events, help, fields) DEBUGLOG_##id,
	ACEXY_DEBUGLOG_CATEGORIES(DEBUGLOG_ENUM_)
#undef DEBUGLOG_ENUM_
	        DEBUGLOG_CAT_COUNT
};

/* The category's name (its file name without .jsonl), "?" out of range. */
static inline const char *debuglog_category_name(enum debuglog_cat cat)
{
	static const char *const names[] = {
#define DEBUGLOG_NAME_(id, name, events, help, fields) name,
	        ACEXY_DEBUGLOG_CATEGORIES(DEBUGLOG_NAME_)
#undef DEBUGLOG_NAME_
	};
	return (unsigned)cat < DEBUGLOG_CAT_COUNT ? names[cat] : "?";
}

#endif
