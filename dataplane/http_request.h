/* Incremental parser of a viewer's request head (Debian's http-parser).
 * Pure: no I/O, no logging, bounded by the header limit. */
#ifndef ACEXY_DP_HTTP_REQUEST_H
#define ACEXY_DP_HTTP_REQUEST_H

#include <stdbool.h>
#include <stddef.h>

enum http_req_method { HTTP_REQ_OTHER, HTTP_REQ_GET, HTTP_REQ_HEAD };
enum { HTTP_REQ_NEED_MORE = 1, HTTP_REQ_DONE = 0 };

struct http_request;

int http_request_new(size_t max_head, struct http_request **ret);
void http_request_free(struct http_request *r);
void http_request_reset(struct http_request *r);
/* Feeds the bytes buffered so far (from the start of this request each time;
 * only the new tail is parsed). Returns HTTP_REQ_DONE with *ret_consumed =
 * length of the head, HTTP_REQ_NEED_MORE, or -EINVAL / -E2BIG (see
 * http_request_error_status/_reason). */
int http_request_feed(struct http_request *r, const char *buf, size_t len, size_t *ret_consumed);
int http_request_error_status(const struct http_request *r);
const char *http_request_error_reason(const struct http_request *r);

enum http_req_method http_request_method(const struct http_request *r);
const char *http_request_path(const struct http_request *r);  /* raw, no query */
const char *http_request_query(const struct http_request *r); /* raw, "" if none */
bool http_request_keep_alive(const struct http_request *r);
/* Header values kept: Host, Authorization, X-Forwarded-For ("" if absent). */
const char *http_request_header(const struct http_request *r, const char *name);

#endif
