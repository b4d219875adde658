/* nng's SP wire format ("scalability protocols"), as libnng 1.5 speaks it on
 * tcp://, tls+tcp:// (the same bytes inside TLS) and ipc://. Pure: no I/O,
 * no logging; the control and admin servers (proto/ipc_server.c) and its
 * fuzzer use it.
 *
 * A connection starts with each side sending an 8-byte header: 0x00 'S' 'P'
 * 0x00, its protocol as a 16-bit big-endian number (REQ0 0x0030, REP0
 * 0x0031), two zero bytes. Each message after it is a 64-bit big-endian
 * length and that many bytes; on ipc:// a type byte 0x01 comes first. A
 * REQ0 request's message starts with its backtrace: 32-bit big-endian words
 * up to and including the first with its top bit set (the request id; one
 * word from a direct peer, one more per device between). The reply sends
 * the backtrace back in front of its own body. */
#ifndef ACEXY_SP_WIRE_H
#define ACEXY_SP_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SP_HEADER_LEN       8
#define SP_PROTO_REQ0       0x0030
#define SP_PROTO_REP0       0x0031
#define SP_BACKTRACE_MAX    8 /* words; nng's default TTL */
#define SP_FRAME_PREFIX_MAX 9

/* Writes our header for protocol `proto`. */
void sp_header_make(uint16_t proto, uint8_t out[SP_HEADER_LEN]);
/* Whether `in` is an SP header; *proto gets the peer's protocol. */
bool sp_header_parse(const uint8_t in[SP_HEADER_LEN], uint16_t *proto);

enum sp_frame_rc {
	SP_FRAME_MORE = 0,     /* not a whole message yet */
	SP_FRAME_OK = 1,       /* *msg, *msglen: one message; *used bytes consumed */
	SP_FRAME_BAD = -1,     /* ipc:// message type other than 0x01 */
	SP_FRAME_TOO_BIG = -2, /* longer than max: the peer must be dropped */
};
/* Looks for the first message in buf[0..len). *need (when MORE, and the
 * length is known) says how many bytes the whole message takes, so that the
 * caller can size its buffer once. */
enum sp_frame_rc sp_frame_next(const uint8_t *buf, size_t len, bool ipc, uint64_t max,
                               const uint8_t **msg, size_t *msglen, size_t *used, size_t *need);
/* The prefix (type byte on ipc://, length) of a message of msglen bytes;
 * returns its length (8 or 9). */
size_t sp_frame_prefix(bool ipc, uint64_t msglen, uint8_t out[SP_FRAME_PREFIX_MAX]);
/* A REQ0 request's backtrace length in bytes (4 to 4 * SP_BACKTRACE_MAX),
 * or 0 when the message has none (too short, or no word with its top bit
 * set within the limit): such a message is dropped. */
size_t sp_req_backtrace(const uint8_t *msg, size_t len);

#endif
