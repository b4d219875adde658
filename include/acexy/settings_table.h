/* The one table of settings (INTERFACE.md "Settings"). Everything else —
 * YAML keys, flags, --help, the sample acexy.yaml, README's table, acexyctl
 * config — is derived from it.
 *
 * X(ID, ENV, TYPE, DEFAULT, OWNER, HELP)
 *   ID      enum suffix: ACEXY_S_<ID>
 *   ENV     environment name; YAML key = ENV without "ACEXY_", lower-cased;
 *           flag = "--" + key with '_' turned into '-'
 *   TYPE    value type (enum acexy_setting_type)
 *   DEFAULT default, in the setting's own syntax
 *   OWNER   ACEXY_OWN_BOTH, ACEXY_OWN_CP, ACEXY_OWN_DP
 *   HELP    one line for --help and docs
 */
#ifndef ACEXY_SETTINGS_TABLE_H
#define ACEXY_SETTINGS_TABLE_H

/* clang-format off */
#define ACEXY_SETTINGS(X) \
X(RUN_DIR,            "ACEXY_RUN_DIR",             ACEXY_T_PATH,     "/run/acexy",     ACEXY_OWN_BOTH, "Unix sockets: control.sock, admin.sock, dataplane-<instance>.sock") \
X(INSTANCE,           "ACEXY_INSTANCE",            ACEXY_T_NAME,     "",               ACEXY_OWN_BOTH, "a dataplane's instance name (default <hostname>-<pid>-<random>, new at every start)") \
X(STATE_DIR,          "ACEXY_STATE_DIR",           ACEXY_T_PATH,     "/var/lib/acexy", ACEXY_OWN_BOTH, "durable state: the event spool") \
X(LOG_LEVEL,          "ACEXY_LOG_LEVEL",           ACEXY_T_LOGLEVEL, "info",           ACEXY_OWN_BOTH, "log level: debug, info, warn, error") \
X(LOG_FORMAT,         "ACEXY_LOG_FORMAT",          ACEXY_T_LOGFORMAT,"text",           ACEXY_OWN_BOTH, "log format: text (key=value) or json") \
X(CONTROL_URL,        "ACEXY_CONTROL_URL",         ACEXY_T_CTLURL,   "",               ACEXY_OWN_BOTH, "controlplane listens, dataplanes dial: ipc://PATH, tcp://HOST:PORT or tls+tcp://HOST:PORT (empty = ipc://$ACEXY_RUN_DIR/control.sock)") \
X(CONTROL_TOKEN,      "ACEXY_CONTROL_TOKEN",       ACEXY_T_SECRET,   "",               ACEXY_OWN_BOTH, "shared secret every dataplane presents in its hello; required for tcp:// and tls+tcp://; never printed") \
X(CONTROL_TOKEN_FILE, "ACEXY_CONTROL_TOKEN_FILE",  ACEXY_T_OPTFILE,  "",               ACEXY_OWN_BOTH, "read ACEXY_CONTROL_TOKEN from this file (trailing newline dropped)") \
X(CONTROL_TLS_CERT,   "ACEXY_CONTROL_TLS_CERT",    ACEXY_T_OPTFILE,  "",               ACEXY_OWN_BOTH, "tls+tcp://: this side's certificate (PEM)") \
X(CONTROL_TLS_KEY,    "ACEXY_CONTROL_TLS_KEY",     ACEXY_T_OPTFILE,  "",               ACEXY_OWN_BOTH, "tls+tcp://: this side's private key (PEM)") \
X(CONTROL_TLS_CA,     "ACEXY_CONTROL_TLS_CA",      ACEXY_T_OPTFILE,  "",               ACEXY_OWN_BOTH, "tls+tcp://: CA that signed the other side's certificate (each side verifies the other)") \
X(ORCH_URL,           "ACEXY_ORCH_URL",            ACEXY_T_URL,      "",               ACEXY_OWN_CP,   "orchestrator base URL (may carry a path prefix); empty = single-engine mode") \
X(ORCH_APIKEY,        "ACEXY_ORCH_APIKEY",         ACEXY_T_SECRET,   "",               ACEXY_OWN_CP,   "orchestrator API key, sent as Authorization: Bearer; never printed") \
X(ORCH_APIKEY_FILE,   "ACEXY_ORCH_APIKEY_FILE",    ACEXY_T_OPTFILE,  "",               ACEXY_OWN_CP,   "read ACEXY_ORCH_APIKEY from this file (trailing newline dropped)") \
X(ORCH_POLL_INTERVAL, "ACEXY_ORCH_POLL_INTERVAL",  ACEXY_T_DURATION, "10s",            ACEXY_OWN_CP,   "orchestrator status poll period (faster while degraded)") \
X(MAX_STREAMS_PER_ENGINE, "ACEXY_MAX_STREAMS_PER_ENGINE", ACEXY_T_COUNT, "1",          ACEXY_OWN_CP,   "engine sessions per engine when the orchestrator is used") \
X(ASSIGN_TIMEOUT,     "ACEXY_ASSIGN_TIMEOUT",      ACEXY_T_DURATION, "45s",            ACEXY_OWN_CP,   "longest a request waits for an engine before 503") \
X(CONTAINER_ID,       "ACEXY_CONTAINER_ID",        ACEXY_T_STRING,   "",               ACEXY_OWN_CP,   "this proxy's identity in logs and labels (cgroup/hostname when unset)") \
X(HOST,               "ACEXY_HOST",                ACEXY_T_HOST,     "localhost",      ACEXY_OWN_CP,   "the single (fallback) engine's host") \
X(PORT,               "ACEXY_PORT",                ACEXY_T_PORT,     "6878",           ACEXY_OWN_CP,   "the single (fallback) engine's port") \
X(SCHEME,             "ACEXY_SCHEME",              ACEXY_T_SCHEME,   "http",           ACEXY_OWN_CP,   "the single (fallback) engine's scheme: http or https") \
X(FALLBACK,           "ACEXY_FALLBACK",            ACEXY_T_BOOL,     "true",           ACEXY_OWN_CP,   "use the single engine when the orchestrator is unreachable") \
X(DATAPLANE_LOST_AFTER, "ACEXY_DATAPLANE_LOST_AFTER", ACEXY_T_DURATION, "5s",          ACEXY_OWN_CP,   "a dataplane silent this long is declared lost; its streams are ended") \
X(SPOOL_MAX,          "ACEXY_SPOOL_MAX",           ACEXY_T_SIZE,     "64MiB",          ACEXY_OWN_CP,   "cap of the event spool; beyond it events are dropped, counted and logged") \
X(CP_LISTEN_ADDR,     "ACEXY_CP_LISTEN_ADDR",      ACEXY_T_ADDR,     ":8081",          ACEXY_OWN_CP,   "controlplane HTTP: /livez, /readyz, /metrics") \
X(DEBUG_MODE,         "DEBUG_MODE",                ACEXY_T_BOOL,     "false",          ACEXY_OWN_CP,   "write JSON Lines debug logs") \
X(DEBUG_LOG_DIR,      "DEBUG_LOG_DIR",             ACEXY_T_PATH,     "./debug_logs",   ACEXY_OWN_CP,   "directory of the JSON Lines debug logs") \
X(LISTEN_ADDR,        "ACEXY_LISTEN_ADDR",         ACEXY_T_ADDR,     ":8080",          ACEXY_OWN_DP,   "viewer-facing listen address (alias env ACEXY_ADDR)") \
X(WORKERS,            "ACEXY_WORKERS",             ACEXY_T_WORKERS,  "auto",           ACEXY_OWN_DP,   "event-loop threads; auto = usable CPUs (cgroup quota aware)") \
X(BUFFER,             "ACEXY_BUFFER",              ACEXY_T_SIZE,     "4.2MiB",         ACEXY_OWN_DP,   "ring capacity per stream (memory grows as data arrives)") \
X(NO_RESPONSE_TIMEOUT, "ACEXY_NO_RESPONSE_TIMEOUT", ACEXY_T_DURATION, "10s",           ACEXY_OWN_DP,   "engine middleware answer deadline") \
X(FIRST_BYTE_TIMEOUT, "ACEXY_FIRST_BYTE_TIMEOUT",  ACEXY_T_DURATION, "30s",            ACEXY_OWN_DP,   "from the engine's answer to the first stream bytes") \
X(EMPTY_TIMEOUT,      "ACEXY_EMPTY_TIMEOUT",       ACEXY_T_DURATION, "1m",             ACEXY_OWN_DP,   "end a stream after this long without upstream data (backpressure pauses excluded)") \
X(WRITE_TIMEOUT,      "ACEXY_WRITE_TIMEOUT",       ACEXY_T_DURATION, "30s",            ACEXY_OWN_DP,   "drop a viewer that accepts no bytes for this long") \
X(CONTROL_WAIT,       "ACEXY_CONTROL_WAIT",        ACEXY_T_DURATION, "3s",             ACEXY_OWN_DP,   "how long a new request waits for an absent controlplane before 503") \
X(DRAIN_TIMEOUT,      "ACEXY_DRAIN_TIMEOUT",       ACEXY_T_DURATION, "25s",            ACEXY_OWN_DP,   "on SIGTERM, how long running streams may continue") \
X(M3U8,               "ACEXY_M3U8",                ACEXY_T_BOOL,     "false",          ACEXY_OWN_DP,   "serve HLS on /ace/getstream too") \
X(M3U8_STREAM_TIMEOUT, "ACEXY_M3U8_STREAM_TIMEOUT", ACEXY_T_DURATION, "60s",           ACEXY_OWN_DP,   "idle timeout of an HLS engine session") \
X(MULTIPLEX,          "ACEXY_MULTIPLEX",           ACEXY_T_BOOL,     "false",          ACEXY_OWN_DP,   "one engine session per content shared by all its viewers") \
X(MULTIPLEX_GRACE,    "ACEXY_MULTIPLEX_GRACE",     ACEXY_T_DURATION, "5s",             ACEXY_OWN_DP,   "a shared session outlives its last viewer this long") \
X(MULTIPLEX_JOIN_BEHIND, "ACEXY_MULTIPLEX_JOIN_BEHIND", ACEXY_T_SIZE, "1MiB",          ACEXY_OWN_DP,   "how far behind the live edge a new viewer of a shared session starts") \
X(MAX_VIEWERS,        "ACEXY_MAX_VIEWERS",         ACEXY_T_COUNT,    "10000",          ACEXY_OWN_DP,   "hard limit of viewers; beyond it new requests get 503") \
X(MAX_STREAMS,        "ACEXY_MAX_STREAMS",         ACEXY_T_COUNT,    "1000",           ACEXY_OWN_DP,   "hard limit of streams; beyond it new requests get 503") \
X(MAX_HEADER_BYTES,   "ACEXY_MAX_HEADER_BYTES",    ACEXY_T_SIZE,     "16KiB",          ACEXY_OWN_DP,   "largest request head accepted (431 beyond)") \
X(REQUEST_TIMEOUT,    "ACEXY_REQUEST_TIMEOUT",     ACEXY_T_DURATION, "10s",            ACEXY_OWN_DP,   "request read deadline (408 beyond)") \
X(MAX_CONNS_PER_IP,   "ACEXY_MAX_CONNS_PER_IP",    ACEXY_T_COUNT,    "0",              ACEXY_OWN_DP,   "per-client connection cap; 0 = off") \
X(TRUSTED_PROXIES,    "ACEXY_TRUSTED_PROXIES",     ACEXY_T_NETS,     "",               ACEXY_OWN_DP,   "networks whose X-Forwarded-For is believed") \
X(ACCESS_TOKEN,       "ACEXY_ACCESS_TOKEN",        ACEXY_T_SECRET,   "",               ACEXY_OWN_DP,   "optional viewer token (?token= or Authorization: Bearer)") \
X(ACCESS_TOKEN_FILE,  "ACEXY_ACCESS_TOKEN_FILE",   ACEXY_T_OPTFILE,  "",               ACEXY_OWN_DP,   "read ACEXY_ACCESS_TOKEN from this file (trailing newline dropped)") \
X(ALLOW_NETS,         "ACEXY_ALLOW_NETS",          ACEXY_T_NETS,     "",               ACEXY_OWN_DP,   "optional CIDR allow-list of viewers") \
X(FAILOVER,           "ACEXY_FAILOVER",            ACEXY_T_BOOL,     "true",           ACEXY_OWN_DP,   "mid-stream engine failover: the viewer keeps its connection when the engine fails") \
X(FAILOVER_STALL,     "ACEXY_FAILOVER_STALL",      ACEXY_T_DURATION, "10s",            ACEXY_OWN_DP,   "no upstream data this long after the first byte counts as an engine failure (backpressure pauses excluded)") \
X(FAILOVER_MAX,       "ACEXY_FAILOVER_MAX",        ACEXY_T_COUNT,    "3",              ACEXY_OWN_DP,   "engine switches per stream in 10 minutes") \
X(PROBE_TIMEOUT,      "ACEXY_PROBE_TIMEOUT",       ACEXY_T_DURATION, "15s",            ACEXY_OWN_DP,   "/ace/probe: how long to wait for the engine to play") \
X(PROBE_CONCURRENCY,  "ACEXY_PROBE_CONCURRENCY",   ACEXY_T_COUNT,    "2",              ACEXY_OWN_DP,   "/ace/probe: probes at once (503 beyond)") \
X(PLAYLIST_SOURCES,   "ACEXY_PLAYLIST_SOURCES",    ACEXY_T_SOURCES,  "",               ACEXY_OWN_DP,   "M3U sources (http(s) URLs or file paths; comma-separated, or a YAML sequence) served rewritten at /ace/playlist.m3u") \
X(PLAYLIST_REFRESH,   "ACEXY_PLAYLIST_REFRESH",    ACEXY_T_DURATION, "1h",             ACEXY_OWN_DP,   "playlist refresh period (a failed refresh keeps the last good copy)")
/* clang-format on */

/* Ranges beyond what the type parses: X(ID, MIN, MAX) in the value's unit
 * (sizes in bytes, durations in milliseconds, counts). Checked when the
 * settings load (out of range: a clear error, exit 2); shown by --help and
 * README's settings table. A setting not listed takes any value it parses.
 * To bound a setting: one line here. */
/* clang-format off */
#define ACEXY_SETTING_RANGES(X) \
X(BUFFER,                 64 * 1024ULL,     1ULL << 30) \
X(MAX_HEADER_BYTES,       1024ULL,          1024 * 1024ULL) \
X(MULTIPLEX_JOIN_BEHIND,  0ULL,             1ULL << 30) \
X(SPOOL_MAX,              64 * 1024ULL,     1ULL << 40) \
X(ORCH_POLL_INTERVAL,     100ULL,           3600 * 1000ULL) \
X(ASSIGN_TIMEOUT,         100ULL,           3600 * 1000ULL) \
X(DATAPLANE_LOST_AFTER,   500ULL,           3600 * 1000ULL) \
X(NO_RESPONSE_TIMEOUT,    10ULL,            3600 * 1000ULL) \
X(FIRST_BYTE_TIMEOUT,     10ULL,            3600 * 1000ULL) \
X(EMPTY_TIMEOUT,          10ULL,            24 * 3600 * 1000ULL) \
X(WRITE_TIMEOUT,          10ULL,            24 * 3600 * 1000ULL) \
X(CONTROL_WAIT,           0ULL,             3600 * 1000ULL) \
X(REQUEST_TIMEOUT,        10ULL,            3600 * 1000ULL) \
X(M3U8_STREAM_TIMEOUT,    100ULL,           24 * 3600 * 1000ULL) \
X(MAX_STREAMS_PER_ENGINE, 1ULL,             1000ULL) \
X(MAX_VIEWERS,            1ULL,             10000000ULL) \
X(MAX_STREAMS,            1ULL,             10000000ULL)
/* clang-format on */

/* Environment-only aliases: X(ID, ENV) */
#define ACEXY_SETTING_ALIASES(X) X(LISTEN_ADDR, "ACEXY_ADDR")

#endif
