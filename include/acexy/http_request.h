/* Incremental parser of a viewer's request head, on Debian's http-parser
 * 2.9.4. Pure: no I/O, no logging. Bounded: the whole head (request line and
 * headers) is at most `max_head` bytes (ACEXY_MAX_HEADER_BYTES); the values
 * of the few headers kept have their own limits (see http_request.c).
 *
 * Feed it the bytes buffered so far, from the start of the request, as they
 * arrive; it parses only the new tail. A request body is refused (400): the
 * viewer API has none. After HTTP_REQ_DONE, the bytes after the head belong
 * to the next (pipelined) request: drop the head, http_request_reset() and
 * feed the rest. */
#ifndef ACEXY_HTTP_REQUEST_H
#define ACEXY_HTTP_REQUEST_H

#include <stdbool.h>
#include <stddef.h>

enum http_req_method { HTTP_REQ_OTHER, HTTP_REQ_GET, HTTP_REQ_HEAD };
enum { HTTP_REQ_NEED_MORE = 1, HTTP_REQ_DONE = 0 };

struct http_request;

/* max_head: the limit of the head in bytes (> 0). */
int http_request_new(size_t max_head, struct http_request **ret);
/* Accepts NULL. */
void http_request_free(struct http_request *r);
/* Ready for the next request on the same connection (keep-alive). */
void http_request_reset(struct http_request *r);
/* `buf` holds the len bytes received so far for this request (the same
 * prefix each time, growing). Returns:
 * - HTTP_REQ_DONE: the head is complete; *ret_consumed = its length.
 * - HTTP_REQ_NEED_MORE: feed again with more bytes.
 * - -EINVAL: malformed (400), a request body (400), a duplicate Host,
 *   Authorization or Range (400);
 * - -E2BIG: the head, or a kept header's value, is too large (431).
 * After an error, http_request_error_status/_reason say which. */
int http_request_feed(struct http_request *r, const char *buf, size_t len, size_t *ret_consumed);
/* The status to answer after an error: 400 or 431. */
int http_request_error_status(const struct http_request *r);
/* One line, for the viewer and the log. */
const char *http_request_error_reason(const struct http_request *r);

/* Valid after HTTP_REQ_DONE. A method other than GET or HEAD is parsed (the
 * caller answers 405); http_request_method_name names it for the log. */
enum http_req_method http_request_method(const struct http_request *r);
const char *http_request_method_name(const struct http_request *r);
/* The request target's path, raw (not percent-decoded), without the query;
 * the path of an absolute-form target ("http://host/p" → "/p"); "*" for
 * OPTIONS *. */
const char *http_request_path(const struct http_request *r);
/* The raw query after '?', "" if none; the fragment is dropped. */
const char *http_request_query(const struct http_request *r);
/* 10 for HTTP/1.0, 11 for HTTP/1.1. */
int http_request_version(const struct http_request *r);
/* Whether the connection may stay open after the answer (the version's
 * default, changed by Connection: close / keep-alive). */
bool http_request_keep_alive(const struct http_request *r);
/* Values of the headers kept, by case-insensitive name: Host,
 * Authorization, X-Forwarded-For (repeats joined with ", "), Connection
 * (likewise), Range, X-Forwarded-Host and X-Forwarded-Proto (likewise). "" if absent or another name. */
const char *http_request_header(const struct http_request *r, const char *name);

#endif
