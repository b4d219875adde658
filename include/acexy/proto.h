/* The conversation between the daemons and acexyctl (see proto/README.md).
 *
 * Wire format: one msgpack array per message,
 *     [version, type, request_id, body]
 * where body is a map with string keys. Bodies are handled as jansson
 * objects: unknown fields are ignored, required ones are checked against the
 * table below by proto_decode. Encode and decode are pure; the decoder is
 * bounded (PROTO_MSG_MAX, depth, element counts, every length checked
 * against the bytes that remain before anything is allocated). */
#ifndef ACEXY_PROTO_H
#define ACEXY_PROTO_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define PROTO_VERSION     1
#define PROTO_VERSION_MIN 1 /* oldest version still accepted (current - 1 once v2 exists) */
#define PROTO_MSG_MAX     (1024 * 1024)
#define PROTO_DEPTH_MAX   8
#define PROTO_ELEMS_MAX   65536

enum proto_dir { PROTO_DP_TO_CP, PROTO_CP_TO_DP, PROTO_CTL_TO_DAEMON, PROTO_ANY };

/* X(ID, code, name, direction) */
#define PROTO_MESSAGES(X)                                                                          \
	X(ERROR, 1, "error", PROTO_ANY)                                                            \
	X(OK, 2, "ok", PROTO_ANY)                                                                  \
	X(HELLO, 10, "hello", PROTO_DP_TO_CP)                                                      \
	X(HELLO_REPLY, 11, "hello_reply", PROTO_CP_TO_DP)                                          \
	X(ASSIGN, 12, "assign", PROTO_DP_TO_CP)                                                    \
	X(LEASE, 13, "lease", PROTO_CP_TO_DP)                                                      \
	X(REFUSAL, 14, "refusal", PROTO_CP_TO_DP)                                                  \
	X(SESSION_STARTED, 15, "session_started", PROTO_DP_TO_CP)                                  \
	X(STREAM_ENDED, 16, "stream_ended", PROTO_DP_TO_CP)                                        \
	X(HEARTBEAT, 17, "heartbeat", PROTO_DP_TO_CP)                                              \
	X(HEARTBEAT_REPLY, 18, "heartbeat_reply", PROTO_CP_TO_DP)                                  \
	X(DEBUG_EVENT, 19, "debug_event", PROTO_DP_TO_CP)                                          \
	X(ADMIN, 30, "admin", PROTO_CTL_TO_DAEMON)                                                 \
	X(ADMIN_REPLY, 31, "admin_reply", PROTO_ANY)

enum proto_type {
#define PROTO_X_ENUM(id, code, name, dir) PROTO_##id = code,
	PROTO_MESSAGES(PROTO_X_ENUM)
#undef PROTO_X_ENUM
};

struct proto_msg {
	uint32_t version;
	enum proto_type type;
	uint64_t id;
	json_t *body; /* owned; an object */
};

const char *proto_type_name(enum proto_type t);
/* Encodes; *ret_buf is malloc'ed. Integers, strings, booleans, null, arrays
 * and objects are supported. -E2BIG beyond PROTO_MSG_MAX. */
int proto_encode(enum proto_type type, uint64_t id, const json_t *body, uint8_t **ret_buf,
                 size_t *ret_len);
/* Decodes and validates (version range, known type, required fields with
 * their types). On error returns -EINVAL (malformed), -EPROTONOSUPPORT
 * (version) or -ENOMSG (unknown type) with a reason in err. On -ENOMSG and
 * a field error, ret->id is still set so the peer can be answered. */
int proto_decode(const uint8_t *buf, size_t len, struct proto_msg *ret, char *err, size_t errcap);
void proto_msg_clear(struct proto_msg *m);

/* Builds an ERROR message body. */
json_t *proto_error_body(const char *code, const char *message);

/* Admin commands of acexyctl: X(ID, name) */
#define PROTO_ADMIN_COMMANDS(X)                                                                    \
	X(PING, "ping")                                                                            \
	X(STATUS, "status")                                                                        \
	X(ENGINES, "engines")                                                                      \
	X(STREAMS, "streams")                                                                      \
	X(STREAM, "stream")                                                                        \
	X(STOP, "stop")                                                                            \
	X(DRAIN, "drain")                                                                          \
	X(RESUME, "resume")                                                                        \
	X(CONFIG, "config")

#endif
