/* The conversation between the daemons and acexyctl (see proto/README.md).
 *
 * Wire format: one msgpack array per message,
 *     [version, type, request_id, body]
 * where body is a map with string keys. Every message body (and every record
 * inside one) is declared once below as a field table; the table generates
 * the C struct (struct proto_<body>) and drives the typed encoder and the
 * decoder, which checks types and required fields. Nothing outside proto/
 * reads a body by string key. Encode and decode are pure; the decoder is
 * bounded (PROTO_MSG_MAX, depth, element counts, every length checked
 * against the bytes that remain before anything is allocated). */
#ifndef ACEXY_PROTO_H
#define ACEXY_PROTO_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PROTO_VERSION     1
#define PROTO_VERSION_MIN 1 /* oldest version still accepted (current - 1 once v2 exists) */
#define PROTO_MSG_MAX     (1024 * 1024)
#define PROTO_DEPTH_MAX   8
#define PROTO_ELEMS_MAX   65536

/* Who sends a message; a receiver names the direction it accepts and the
 * decoder refuses the others (-EPROTOTYPE). PROTO_ANY: replies (error, ok)
 * accepted everywhere; as a receiver: accept every direction (tests). */
enum proto_dir {
	PROTO_DP_TO_CP,
	PROTO_CP_TO_DP,
	PROTO_CTL_TO_DAEMON,
	PROTO_DAEMON_TO_CTL,
	PROTO_ANY
};

/* ---- field tables ----
 * One line per field: F(body, field, TYPE, REQ|OPT, record)
 *   STR   const char *  (decoded: "" when absent; encoded: skipped when NULL
 *                        and optional, "" when NULL and required)
 *   INT   int64_t       (absent: 0)
 *   UINT  uint64_t      (absent: 0; negative: refused)
 *   BOOL  bool          (absent: false)
 *   MAP   json_t *      free-form map (absent: NULL; encoded: skipped when NULL)
 *   LIST  struct proto_<record> *field; size_t n_<field>: an array of records
 * A present field of the wrong type is refused (nil reads as absent for an
 * optional field); unknown fields are ignored. To add a field: one line here,
 * then proto/README.md. */

/* records inside message bodies */
#define PROTO_BODY_stream(F) /* hello.streams[]: a stream the dataplane relays */                  \
	F(stream, lease, UINT, OPT, none)                                                          \
	F(stream, bytes, UINT, OPT, none)                                                          \
	F(stream, viewers, UINT, OPT, none)                                                        \
	F(stream, content, STR, OPT, none)                                                         \
	F(stream, engine, STR, OPT, none)                                                          \
	F(stream, playback_session_id, STR, OPT, none)                                             \
	F(stream, key_type, STR, OPT, none)                                                        \
	F(stream, key, STR, OPT, none)                                                             \
	F(stream, scheme, STR, OPT, none)                                                          \
	F(stream, host, STR, OPT, none)                                                            \
	F(stream, port, UINT, OPT, none)                                                           \
	F(stream, container_id, STR, OPT, none)                                                    \
	F(stream, fallback, BOOL, OPT, none)                                                       \
	F(stream, stat_url, STR, OPT, none)                                                        \
	F(stream, command_url, STR, OPT, none)                                                     \
	F(stream, is_live, BOOL, OPT, none)                                                        \
	F(stream, failovers, UINT, OPT, none)

#define PROTO_BODY_hb_stream(F) /* heartbeat.streams[] */                                          \
	F(hb_stream, lease, UINT, OPT, none)                                                       \
	F(hb_stream, bytes, UINT, OPT, none)                                                       \
	F(hb_stream, viewers, UINT, OPT, none)                                                     \
	F(hb_stream, failovers, UINT, OPT, none)                                                   \
	F(hb_stream, engine_status, STR, OPT, none)                                                \
	F(hb_stream, engine_peers, UINT, OPT, none)                                                \
	F(hb_stream, engine_speed_down, UINT, OPT, none)                                           \
	F(hb_stream, engine_speed_up, UINT, OPT, none)

#define PROTO_BODY_ended(F) /* hello.ended[]: ended while no controlplane answered */              \
	F(ended, lease, UINT, OPT, none)                                                           \
	F(ended, reason, STR, OPT, none)                                                           \
	F(ended, bytes, UINT, OPT, none)                                                           \
	F(ended, duration_ms, UINT, OPT, none)                                                     \
	F(ended, container_id, STR, OPT, none)                                                     \
	F(ended, playback_session_id, STR, OPT, none)                                              \
	F(ended, fallback, BOOL, OPT, none)

#define PROTO_BODY_command(F) /* heartbeat_reply.commands[]: stop (lease), drain, resume */        \
	F(command, cmd, STR, OPT, none)                                                            \
	F(command, lease, UINT, OPT, none)

#define PROTO_RECORDS(X) X(stream) X(hb_stream) X(ended) X(command)

/* message bodies */
#define PROTO_BODY_error(F)                                                                        \
	F(error, code, STR, REQ, none)                                                             \
	F(error, message, STR, REQ, none)

#define PROTO_BODY_ok(F)

#define PROTO_BODY_hello(F)                                                                        \
	F(hello, instance, STR, REQ, none)                                                         \
	F(hello, software, STR, REQ, none)                                                         \
	F(hello, proto, INT, OPT, none)                                                            \
	F(hello, draining, BOOL, OPT, none)                                                        \
	F(hello, token, STR, OPT, none)                                                            \
	F(hello, streams, LIST, REQ, stream)                                                       \
	F(hello, ended, LIST, REQ, ended)

#define PROTO_BODY_hello_reply(F)                                                                  \
	F(hello_reply, controlplane, STR, OPT, none)                                               \
	F(hello_reply, software, STR, OPT, none)

#define PROTO_BODY_assign(F)                                                                       \
	F(assign, instance, STR, REQ, none)                                                        \
	F(assign, key_type, STR, REQ, none)                                                        \
	F(assign, key, STR, REQ, none)                                                             \
	F(assign, params, STR, OPT, none)                                                          \
	F(assign, avoid, STR, OPT, none)

#define PROTO_BODY_lease(F)                                                                        \
	F(lease, lease, UINT, REQ, none)                                                           \
	F(lease, scheme, STR, REQ, none)                                                           \
	F(lease, host, STR, REQ, none)                                                             \
	F(lease, port, UINT, REQ, none)                                                            \
	F(lease, fallback, BOOL, REQ, none)                                                        \
	F(lease, container_id, STR, OPT, none)

#define PROTO_BODY_refusal(F)                                                                      \
	F(refusal, reason, STR, REQ, none)                                                         \
	F(refusal, retry_after, INT, REQ, none)

#define PROTO_BODY_session_started(F)                                                              \
	F(session_started, instance, STR, REQ, none)                                               \
	F(session_started, lease, UINT, REQ, none)                                                 \
	F(session_started, playback_session_id, STR, REQ, none)                                    \
	F(session_started, stat_url, STR, OPT, none)                                               \
	F(session_started, command_url, STR, OPT, none)                                            \
	F(session_started, playback_url, STR, OPT, none)                                           \
	F(session_started, infohash, STR, OPT, none)                                               \
	F(session_started, is_live, BOOL, OPT, none)

#define PROTO_BODY_stream_ended(F)                                                                 \
	F(stream_ended, instance, STR, REQ, none)                                                  \
	F(stream_ended, lease, UINT, REQ, none)                                                    \
	F(stream_ended, reason, STR, REQ, none)                                                    \
	F(stream_ended, bytes, UINT, REQ, none)                                                    \
	F(stream_ended, duration_ms, UINT, REQ, none)                                              \
	F(stream_ended, container_id, STR, OPT, none)                                              \
	F(stream_ended, playback_session_id, STR, OPT, none)                                       \
	F(stream_ended, fallback, BOOL, OPT, none)

#define PROTO_BODY_heartbeat(F)                                                                    \
	F(heartbeat, instance, STR, REQ, none)                                                     \
	F(heartbeat, draining, BOOL, OPT, none)                                                    \
	F(heartbeat, streams, LIST, REQ, hb_stream)

#define PROTO_BODY_heartbeat_reply(F) F(heartbeat_reply, commands, LIST, REQ, command)

#define PROTO_BODY_debug_event(F)                                                                  \
	F(debug_event, instance, STR, OPT, none)                                                   \
	F(debug_event, category, STR, REQ, none)                                                   \
	F(debug_event, record, MAP, REQ, none)

#define PROTO_BODY_admin(F)                                                                        \
	F(admin, command, STR, REQ, none)                                                          \
	F(admin, arg, STR, OPT, none)                                                              \
	F(admin, instance, STR, OPT, none)

#define PROTO_BODY_admin_reply(F) F(admin_reply, result, MAP, REQ, none)

/* Every message: X(ID, code, body, direction). The name on the wire docs
 * and in logs is the body's name; its fields are PROTO_BODY_<body>. */
#define PROTO_MESSAGES(X)                                                                          \
	X(ERROR, 1, error, PROTO_ANY)                                                              \
	X(OK, 2, ok, PROTO_ANY)                                                                    \
	X(HELLO, 10, hello, PROTO_DP_TO_CP)                                                        \
	X(HELLO_REPLY, 11, hello_reply, PROTO_CP_TO_DP)                                            \
	X(ASSIGN, 12, assign, PROTO_DP_TO_CP)                                                      \
	X(LEASE, 13, lease, PROTO_CP_TO_DP)                                                        \
	X(REFUSAL, 14, refusal, PROTO_CP_TO_DP)                                                    \
	X(SESSION_STARTED, 15, session_started, PROTO_DP_TO_CP)                                    \
	X(STREAM_ENDED, 16, stream_ended, PROTO_DP_TO_CP)                                          \
	X(HEARTBEAT, 17, heartbeat, PROTO_DP_TO_CP)                                                \
	X(HEARTBEAT_REPLY, 18, heartbeat_reply, PROTO_CP_TO_DP)                                    \
	X(DEBUG_EVENT, 19, debug_event, PROTO_DP_TO_CP)                                            \
	X(ADMIN, 30, admin, PROTO_CTL_TO_DAEMON)                                                   \
	X(ADMIN_REPLY, 31, admin_reply, PROTO_DAEMON_TO_CTL)

enum proto_type {
#define PROTO_X_ENUM(id, code, body, dir) PROTO_##id = code,
	PROTO_MESSAGES(PROTO_X_ENUM)
#undef PROTO_X_ENUM
};

/* ---- the generated structs ---- */
#define PROTO_CTYPE_STR(f, rec)  const char *f;
#define PROTO_CTYPE_INT(f, rec)  int64_t f;
#define PROTO_CTYPE_UINT(f, rec) uint64_t f;
#define PROTO_CTYPE_BOOL(f, rec) bool f;
#define PROTO_CTYPE_MAP(f, rec)  json_t *f;
#define PROTO_CTYPE_LIST(f, rec)                                                                   \
	struct proto_##rec *f;                                                                     \
	size_t n_##f;
#define PROTO_X_MEMBER(body, f, T, req, rec) PROTO_CTYPE_##T(f, rec)
/* proto_end_ keeps a body without fields (ok) valid C; unused */
#define PROTO_X_STRUCT(body)                                                                       \
	struct proto_##body {                                                                      \
		PROTO_BODY_##body(PROTO_X_MEMBER) char proto_end_;                                 \
	};
PROTO_RECORDS(PROTO_X_STRUCT)
#define PROTO_X_MSG_STRUCT(id, code, body, dir) PROTO_X_STRUCT(body)
PROTO_MESSAGES(PROTO_X_MSG_STRUCT)
#undef PROTO_X_MSG_STRUCT

/* A decoded message. The typed body (the member named after the type)
 * borrows its strings from `json`, owned by the message: valid until
 * proto_msg_clear. */
struct proto_msg {
	uint32_t version;
	enum proto_type type;
	uint64_t id;
	json_t *json; /* the decoded body map (owned) */
	union {
#define PROTO_X_UNION(id, code, body, dir) struct proto_##body body;
		PROTO_MESSAGES(PROTO_X_UNION)
#undef PROTO_X_UNION
	};
};

const char *proto_type_name(enum proto_type t);
enum proto_dir proto_type_dir(enum proto_type t);
const char *proto_dir_name(enum proto_dir d);

/* Encodes a typed body (a struct proto_<body> of that type; NULL = empty);
 * *ret_buf is malloc'ed. -E2BIG beyond PROTO_MSG_MAX, -EINVAL unknown type. */
int proto_encode(enum proto_type type, uint64_t id, const void *body, uint8_t **ret_buf,
                 size_t *ret_len);
/* Typed wrappers: proto_encode_hello(id, &hello, &buf, &len), ... */
#define PROTO_X_ENCODE(id_, code, body, dir)                                                       \
	static inline int proto_encode_##body(uint64_t id, const struct proto_##body *b,           \
	                                      uint8_t **ret_buf, size_t *ret_len)                  \
	{                                                                                          \
		return proto_encode(PROTO_##id_, id, b, ret_buf, ret_len);                         \
	}
PROTO_MESSAGES(PROTO_X_ENCODE)
#undef PROTO_X_ENCODE
/* Encodes any JSON object as a body, unchecked: for tests and tools that
 * craft messages (wrong types, unknown fields). */
int proto_encode_json(enum proto_type type, uint64_t id, const json_t *body, uint8_t **ret_buf,
                      size_t *ret_len);

/* Decodes and validates: version range, known type, direction (`accept`:
 * the direction this receiver takes; PROTO_ANY takes all), fields with their
 * types. On error returns -EINVAL (malformed), -EPROTONOSUPPORT (version),
 * -ENOMSG (unknown type) or -EPROTOTYPE (wrong direction) with a reason in
 * err; on all but a malformed envelope ret->id (and for -EPROTOTYPE
 * ret->type) is still set so the peer can be answered. */
int proto_decode(const uint8_t *buf, size_t len, enum proto_dir accept, struct proto_msg *ret,
                 char *err, size_t errcap);
void proto_msg_clear(struct proto_msg *m);
/* A debug_event's record for the debug log: a copy without its "event"
 * field, whose value (else "dataplane_event") goes to event. NULL when out
 * of memory. */
json_t *proto_debug_record(const struct proto_debug_event *d, char *event, size_t cap);
/* The error code for a proto_decode result: malformed, version,
 * unknown_type, unexpected. */
const char *proto_decode_error_code(int rc);

/* Admin commands: X(ID, name, arg, where, help)
 *   arg:   NULL = takes none, else what the argument names (usage text)
 *   where: PROTO_ADMIN_CP, _DP or _BOTH: the daemons that answer it
 * acexyctl's help and both daemons' dispatch come from this table. */
#define PROTO_ADMIN_CP   1
#define PROTO_ADMIN_DP   2
#define PROTO_ADMIN_BOTH 3
#define PROTO_ADMIN_COMMANDS(X)                                                                    \
	X(PING, "ping", NULL, PROTO_ADMIN_BOTH, "check that the daemon answers")                   \
	X(STATUS, "status", NULL, PROTO_ADMIN_BOTH,                                                \
	  "daemon state (controlplane: mode, leases, dataplanes)")                                 \
	X(ENGINES, "engines", NULL, PROTO_ADMIN_CP, "engines with health, load and leases")        \
	X(STREAMS, "streams", NULL, PROTO_ADMIN_BOTH, "live streams")                              \
	X(STREAM, "stream", "ID", PROTO_ADMIN_CP, "one stream in detail")                          \
	X(STOP, "stop", "ID", PROTO_ADMIN_BOTH, "end a stream (reason: stopped)")                  \
	X(DRAIN, "drain", NULL, PROTO_ADMIN_BOTH,                                                  \
	  "stop taking new streams (all dataplanes, or --instance)")                               \
	X(RESUME, "resume", NULL, PROTO_ADMIN_BOTH, "undo drain")                                  \
	X(CONFIG, "config", NULL, PROTO_ADMIN_BOTH,                                                \
	  "effective settings with their origin (secrets as <set>)")                               \
	X(DATAPLANES, "dataplanes", NULL, PROTO_ADMIN_CP,                                          \
	  "every dataplane: address, streams, viewers, last heartbeat, version")

enum proto_admin_cmd {
#define PROTO_X_ADMIN_ENUM(id, name, arg, where, help) PROTO_ADMIN_##id,
	PROTO_ADMIN_COMMANDS(PROTO_X_ADMIN_ENUM)
#undef PROTO_X_ADMIN_ENUM
	        PROTO_ADMIN_COUNT_
};

struct proto_admin_desc {
	const char *name, *arg, *help;
	int where;
};
/* The command's row, or NULL. */
const struct proto_admin_desc *proto_admin(enum proto_admin_cmd c);
/* The command named `name`, or -1. */
int proto_admin_lookup(const char *name);

#endif
