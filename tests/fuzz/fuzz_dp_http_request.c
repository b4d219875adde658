/* Feeds a request head in pieces (split points from the input itself). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dataplane/http_request.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct http_request *r;
	if (size < 1 || http_request_new(4096, &r) < 0)
		return 0;
	size_t step = (size_t)data[0] % 64 + 1;
	const char *buf = (const char *)data + 1;
	size_t len = size - 1, used = 0;
	for (size_t have = step < len ? step : len;; have = have + step < len ? have + step : len) {
		int rc = http_request_feed(r, buf, have, &used);
		if (rc == HTTP_REQ_DONE) {
			if (used > have)
				abort();
			(void)http_request_path(r);
			(void)http_request_query(r);
			(void)http_request_header(r, "host");
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
			if (http_request_error_status(r) < 400 || !http_request_error_reason(r))
				abort();
			break;
		}
		if (have == len)
			break;
	}
	http_request_free(r);
	return 0;
}
