/* The engine's answer to the playback request, read by the dataplane itself
 * (not libcurl) so the body can be moved with splice(2). Pure: no I/O, no
 * logging.
 *
 * http_head_parse() reads a response head (status line and headers);
 * http_body decodes the body that follows: Content-Length, chunked, or
 * until the connection closes. The body decoder works in two ways that can
 * be mixed at any byte boundary:
 * - in place: http_body_decode() takes raw bytes and leaves only the data
 *   at the front of the buffer (the copy path);
 * - by the count: http_body_raw_left() says how many of the next raw bytes
 *   are data and may be moved without being looked at (e.g. spliced), and
 *   http_body_raw_consumed() records that they were (the zero-copy path). */
#ifndef ACEXY_DP_HTTP_RESPONSE_H
#define ACEXY_DP_HTTP_RESPONSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HTTP_HEAD_MAX     16384 /* a longer head is refused */
#define HTTP_LOCATION_MAX 2048

struct http_head {
	int status;             /* 100..599 */
	bool http10;            /* HTTP/1.0: no chunked, body until close */
	bool chunked;           /* Transfer-Encoding ends in chunked */
	int64_t content_length; /* -1: none given */
	char location[HTTP_LOCATION_MAX];
	bool location_too_long; /* location left empty */
};

/* Parses the head at the start of buf[0..len). Returns its length in bytes
 * (through the blank line), 0 when it is not complete yet, or -1 with *err
 * set when it is not an HTTP/1.x response head, a length is malformed, or
 * the head is longer than HTTP_HEAD_MAX. */
long http_head_parse(const char *buf, size_t len, struct http_head *h, const char **err);

enum http_body_mode {
	HTTP_BODY_LENGTH,
	HTTP_BODY_CHUNKED,
	HTTP_BODY_CLOSE, /* until the connection ends */
};

struct http_body {
	enum http_body_mode mode;
	int st;         /* chunked: where in the framing */
	uint64_t left;  /* LENGTH: body bytes to go; CHUNKED: of this chunk */
	unsigned extra; /* chunked: bytes of the current size line or trailer */
	bool done;      /* the whole body was seen */
};

/* The framing of the body that follows head h (a response to GET). */
void http_body_init(struct http_body *b, const struct http_head *h);
/* Decodes raw[0..n) in place: the data bytes are moved to the front of raw
 * and counted in *data_len. Returns the raw bytes consumed (fewer than n
 * only once the body is done: the rest is not part of it), or -1 with *err
 * set on a framing error. */
long http_body_decode(struct http_body *b, char *raw, size_t n, size_t *data_len, const char **err);
/* How many of the next raw bytes are body data that need no decoding:
 * 0 when framing comes next (or the body is done); UINT64_MAX for a body
 * that runs until the connection ends. */
uint64_t http_body_raw_left(const struct http_body *b);
/* n raw data bytes (at most http_body_raw_left) were moved undecoded. */
void http_body_raw_consumed(struct http_body *b, uint64_t n);
/* The connection ended here: is that the body's proper end? */
bool http_body_complete_at_eof(const struct http_body *b);

#endif
