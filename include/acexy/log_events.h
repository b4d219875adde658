/* The one table of log events: every ALOG(level, "event", ...) of both
 * daemons names one of these. doc/LOG_EVENTS.md is generated from it
 * (scripts/gen-log-doc.sh); the ctest log_events_table fails on an event
 * used but not listed, or listed but never used. To add one: a line here,
 * then scripts/gen-log-doc.sh.
 *
 * ACEXY_LOG_EVENTS(X): X(NAME, WHO, MEANING)
 *   NAME     the event, as logged (event=NAME, or "event":"NAME" in JSON)
 *   WHO      ACEXY_LOG_CP, ACEXY_LOG_DP or ACEXY_LOG_BOTH: who logs it
 *   MEANING  one line for operators
 */
#ifndef ACEXY_LOG_EVENTS_H
#define ACEXY_LOG_EVENTS_H

#define ACEXY_LOG_CP   1
#define ACEXY_LOG_DP   2
#define ACEXY_LOG_BOTH 3

/* clang-format off */
#define ACEXY_LOG_EVENTS(X) \
X(started,                   ACEXY_LOG_BOTH, "the daemon started: version, listen addresses, mode") \
X(stopping,                  ACEXY_LOG_CP,   "a stop signal arrived; the controlplane shuts down") \
X(stopped,                   ACEXY_LOG_BOTH, "the daemon stopped cleanly") \
X(start_failed,              ACEXY_LOG_CP,   "the controlplane could not start (why: sockets, spool, listen address)") \
X(already_running,           ACEXY_LOG_CP,   "another controlplane answers on this run directory's control.sock; this one exits") \
X(running_as_root,           ACEXY_LOG_BOTH, "the daemon runs as root; a dedicated user is advised") \
X(listen_failed,             ACEXY_LOG_DP,   "the viewer-facing address could not be bound") \
X(curl_init_failed,          ACEXY_LOG_DP,   "libcurl could not be initialised") \
X(thread_start_failed,       ACEXY_LOG_DP,   "a worker thread could not be started") \
X(draining,                  ACEXY_LOG_DP,   "draining: no new streams, running ones continue (SIGTERM or acexyctl drain)") \
X(drain_timeout,             ACEXY_LOG_DP,   "ACEXY_DRAIN_TIMEOUT passed with streams still running; they are ended") \
X(second_signal_exit,        ACEXY_LOG_DP,   "a second stop signal during the drain: exit at once") \
X(worker_queue_full,         ACEXY_LOG_DP,   "a worker's command queue was full; the command was dropped") \
X(accept_paused,             ACEXY_LOG_BOTH, "out of file descriptors: accepting pauses briefly instead of spinning") \
X(idle_connection_reclaimed, ACEXY_LOG_DP,   "connections that sent no full request were closed to serve others (at most one line per 10 s)") \
X(request_refused,           ACEXY_LOG_DP,   "a request was answered with an error status before any stream (limits, bad request)") \
X(access_refused,            ACEXY_LOG_DP,   "a viewer was refused by ACEXY_ALLOW_NETS or ACEXY_ACCESS_TOKEN") \
X(viewer_ids_dropped,        ACEXY_LOG_DP,   "the viewer's own pid/sid parameters were dropped (the proxy gives each engine session its own)") \
X(stream_started,            ACEXY_LOG_DP,   "a stream's first bytes reached its viewer (content, engine, time to first byte)") \
X(stream_ended,              ACEXY_LOG_DP,   "a stream ended (reason: client_gone, empty_timeout, upstream_eof, stopped, ...; bytes, duration)") \
X(stream_failed,             ACEXY_LOG_DP,   "a stream failed before or while playing (the viewer got 502/504 or was cut)") \
X(upstream_error,            ACEXY_LOG_DP,   "the engine answered with an error or broke the stream") \
X(engine_session_stopped_late, ACEXY_LOG_DP, "the viewer left during the engine API call; the new engine session was stopped at once") \
X(late_lease_released,       ACEXY_LOG_DP,   "the viewer left while the controlplane chose an engine; the lease went straight back") \
X(viewer_left,               ACEXY_LOG_DP,   "a viewer of a shared stream left; the stream goes on for the others") \
X(viewer_dropped,            ACEXY_LOG_DP,   "a viewer fell a whole buffer behind the live edge and was dropped") \
X(hls_idle,                  ACEXY_LOG_DP,   "an HLS engine session was idle for ACEXY_M3U8_STREAM_TIMEOUT and was ended") \
X(continuity_off,            ACEXY_LOG_DP,   "a stream plays without failover continuity (why)") \
X(failover,                  ACEXY_LOG_DP,   "a stream moved to another engine mid-play; the viewer kept its connection") \
X(failover_failed,           ACEXY_LOG_DP,   "a failover attempt found no working engine") \
X(failover_refused,          ACEXY_LOG_DP,   "no failover: ACEXY_FAILOVER_MAX switches in 10 minutes were spent") \
X(playlist_source_loaded,    ACEXY_LOG_DP,   "a playlist source (file or URL) was read") \
X(playlist_published,        ACEXY_LOG_DP,   "the merged playlist at /ace/playlist.m3u was replaced") \
X(playlist_refresh_failed,   ACEXY_LOG_DP,   "a playlist source could not be read; its last good copy stays") \
X(playlist_refresh_skipped,  ACEXY_LOG_DP,   "a playlist refresh was skipped: the previous one still runs") \
X(playlist_merge_failed,     ACEXY_LOG_DP,   "the playlists could not be merged; the last published one stays") \
X(probe_started,             ACEXY_LOG_DP,   "/ace/probe began an engine session for a content (debug)") \
X(probe_done,                ACEXY_LOG_DP,   "/ace/probe answered (live, engine status, time taken, error); the engine session it started is stopped") \
X(probe_abandoned,           ACEXY_LOG_DP,   "the client of /ace/probe hung up first; the engine session it started is stopped, the lease released") \
X(probe_watching,            ACEXY_LOG_DP,   "multiplex: /ace/probe waits on the content's shared session (in any state) instead of starting one (debug)") \
X(controlplane_connected,    ACEXY_LOG_DP,   "a controlplane answers (after a start or an outage)") \
X(controlplane_lost,         ACEXY_LOG_DP,   "the controlplane stopped answering; streams go on, new requests wait ACEXY_CONTROL_WAIT") \
X(controlplane_dial_failed,  ACEXY_LOG_DP,   "the dataplane could not set up its connection to ACEXY_CONTROL_URL") \
X(controlplane_error,        ACEXY_LOG_DP,   "the controlplane answered a hello or heartbeat with an error (code)") \
X(command,                   ACEXY_LOG_DP,   "a command from the controlplane: stop (a lease), drain, resume") \
X(control_encode_failed,     ACEXY_LOG_DP,   "a hello or heartbeat could not be encoded (tried again every second)") \
X(ended_report_dropped,      ACEXY_LOG_DP,   "a stream end could not be kept for the controlplane (pending list full)") \
X(stale_socket_removed,      ACEXY_LOG_DP,   "a dataplane-*.sock file nobody listens on was removed") \
X(bad_message,               ACEXY_LOG_BOTH, "a message on a control or admin socket did not decode or went the wrong way; answered with an error, counted") \
X(control_peer_refused,      ACEXY_LOG_BOTH, "a connection on the control or admin socket was dropped before or instead of a request: no SP header, not REQ, oversized, no request id, TLS failed, too slow (at most one line per 10 s)") \
X(engine_stop_retry,         ACEXY_LOG_BOTH, "an engine stop command failed and is tried again") \
X(engine_stop_failed,        ACEXY_LOG_BOTH, "an engine stop command failed for good; the engine session may run on") \
X(dataplane_connected,       ACEXY_LOG_CP,   "a dataplane said hello for the first time (instance, software, streams it relays)") \
X(dataplane_lost,            ACEXY_LOG_CP,   "a dataplane was silent ACEXY_DATAPLANE_LOST_AFTER; its streams were ended") \
X(dataplane_refused,         ACEXY_LOG_CP,   "a dataplane's hello had a wrong or missing ACEXY_CONTROL_TOKEN (logged at most once a second, with the count not logged)") \
X(instance_in_use,           ACEXY_LOG_CP,   "a hello named an instance another live connection holds; refused") \
X(instance_taken_over,       ACEXY_LOG_CP,   "a new connection said hello with an instance name whose holder had been silent 3 s; the old connection is closed") \
X(lease_claim_refused,       ACEXY_LOG_CP,   "a lease a dataplane re-announced was not taken: an id not ours, another dataplane's, too many, or URLs off its engine") \
X(url_refused,               ACEXY_LOG_CP,   "a stat_url/command_url a dataplane declared is not on the lease's engine; dropped, never called") \
X(controlplane_refused,      ACEXY_LOG_DP,   "the controlplane refused this dataplane's hello (wrong token, instance name in use); logged once, not ready meanwhile") \
X(controlplane_stalled,      ACEXY_LOG_CP,   "the controlplane itself stalled (paused, overloaded); the gap does not count as dataplane silence") \
X(command_queue_full,        ACEXY_LOG_CP,   "a command for a dataplane was refused: its queue is full") \
X(lease_granted,             ACEXY_LOG_CP,   "an engine slot was leased to a stream (engine, fallback, why)") \
X(lease_rebuilt,             ACEXY_LOG_CP,   "a lease was rebuilt from a dataplane's hello after a controlplane restart") \
X(lease_released,            ACEXY_LOG_CP,   "a lease ended (reason, bytes)") \
X(assign_refused,            ACEXY_LOG_CP,   "an engine request was refused (reason, retry_after): the viewer gets 503") \
X(fallback_skipped,          ACEXY_LOG_CP,   "the fallback engine was not used: its last health probe failed") \
X(fallback_engine_health,    ACEXY_LOG_CP,   "the fallback engine's probed health changed") \
X(orchestrator_state,        ACEXY_LOG_CP,   "the orchestrator's state changed (healthy, degraded; can_provision, block)") \
X(orchestrator_unreachable,  ACEXY_LOG_CP,   "the orchestrator did not answer /orchestrator/status (refused, timeout, 5xx, unreadable)") \
X(orchestrator_error,        ACEXY_LOG_CP,   "an orchestrator call other than the status failed") \
X(engine_suspect,            ACEXY_LOG_CP,   "an engine a stream failed on ranks last in selection for a minute (the failover itself moves away from it while another engine can serve)") \
X(provisioning,              ACEXY_LOG_CP,   "a new engine is being provisioned (requests waiting, attempt)") \
X(provisioned,               ACEXY_LOG_CP,   "the orchestrator started an engine (container id)") \
X(provision_failed,          ACEXY_LOG_CP,   "provisioning failed (code, message, ETA, can_retry, should_wait)") \
X(engine_ready,              ACEXY_LOG_CP,   "a provisioned engine answers and takes streams") \
X(stream_event,              ACEXY_LOG_CP,   "a stream event reached the orchestrator, or was skipped (outcome)") \
X(stream_event_retry,        ACEXY_LOG_CP,   "a stream event failed and is retried with back-off") \
X(stream_event_rejected,     ACEXY_LOG_CP,   "the orchestrator refused a stream event for good (4xx)") \
X(stream_event_dropped,      ACEXY_LOG_CP,   "a stream event was dropped (spool full)") \
X(stream_ended_skipped,      ACEXY_LOG_CP,   "a stream_ended was not sent: the orchestrator no longer lists the stream") \
X(stream_ended_while_away,   ACEXY_LOG_CP,   "a stream that ended while no controlplane was reachable is reported now") \
X(events_pending_at_exit,    ACEXY_LOG_CP,   "stream events still pending at exit (kept in the spool)") \
X(spool_loaded,              ACEXY_LOG_CP,   "the event spool was read at start (pending, bad records)") \
X(spool_records_skipped,     ACEXY_LOG_CP,   "damaged spool records were skipped (checksum or JSON wrong)") \
X(spool_write_failed,        ACEXY_LOG_CP,   "an event could not be written to the spool (disk full?); it waits in memory") \
X(spool_retry_failed,        ACEXY_LOG_CP,   "events kept in memory still cannot be spooled") \
X(spool_caught_up,           ACEXY_LOG_CP,   "events kept in memory are in the spool again") \
X(debug_log_unusable,        ACEXY_LOG_CP,   "DEBUG_LOG_DIR cannot be used; debug logs are off") \
X(debug_log_unwritable,      ACEXY_LOG_CP,   "a debug log file cannot be written; retried") \
X(debug_log_writable,        ACEXY_LOG_CP,   "debug log files can be written again")
/* clang-format on */

#endif
