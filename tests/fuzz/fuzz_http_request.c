/* Feeds request heads in pieces (the split step comes from the input's first
 * byte), pipelined requests one after the other, and checks what a caller
 * relies on: consumed <= fed, path/query shapes, bounded header values,
 * error status 400/431 matching the return code. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "acexy/http_request.h"

#define MAX_HEAD 4096

static void check_done(const struct http_request *r)
{
	const char *path = http_request_path(r), *query = http_request_query(r);
	if (!path || !query || (path[0] != '/' && strcmp(path, "*") != 0))
		abort();
	if (strchr(path, '?') || strchr(path, '#') || strchr(query, '#'))
		abort();
	if (strlen(path) + strlen(query) > MAX_HEAD)
		abort();
	for (const char *c = path; *c; c++)
		if ((unsigned char)*c <= ' ')
			abort();
	static const char *const names[] = {"host",       "authorization", "x-forwarded-for",
	                                    "connection", "range",         "other"};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strlen(http_request_header(r, names[i])) > 2047)
			abort();
	if (http_request_method(r) != HTTP_REQ_OTHER && !http_request_method_name(r))
		abort();
	(void)http_request_version(r);
	(void)http_request_keep_alive(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct http_request *r;
	if (size < 1 || http_request_new(MAX_HEAD, &r) < 0)
		return 0;
	size_t step = (size_t)data[0] % 64 + 1;
	const char *buf = (const char *)data + 1;
	size_t len = size - 1, used = 0;
	for (size_t have = step < len ? step : len;; have = have + step < len ? have + step : len) {
		int rc = http_request_feed(r, buf, have, &used);
		if (rc == HTTP_REQ_DONE) {
			if (used == 0 || used > have || used > MAX_HEAD)
				abort();
			check_done(r);
			/* the next pipelined request reuses the parser */
			http_request_reset(r);
			buf += used;
			len -= used;
			have = 0;
			if (len == 0)
				break;
			continue;
		}
		if (rc < 0) {
			int status = http_request_error_status(r);
			if ((status != 400 && status != 431) || (rc == -E2BIG) != (status == 431) ||
			    (rc != -E2BIG && rc != -EINVAL) || !http_request_error_reason(r))
				abort();
			break;
		}
		if (rc != HTTP_REQ_NEED_MORE)
			abort();
		if (have == len) {
			if (have >= MAX_HEAD)
				abort(); /* should have been refused as too large */
			break;
		}
	}
	http_request_free(r);
	return 0;
}
