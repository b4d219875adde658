/* Any bytes as the engine's answer to the playback request: the head is
 * parsed or refused with a reason; the body after it is decoded three ways
 * (in place in one piece, in place in pieces whose size comes from the
 * input's first byte, and by the count as the splice path does) and all
 * three must give the same data, the same end and the same verdict. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dataplane/http_response.h"

struct result {
	char *data;
	size_t len;
	int error; /* 1: a framing error */
	int done;
};

/* step 0: the whole rest at once; otherwise pieces of `step` bytes, where
 * raw-left data is "moved" (copied as is) without decoding when splice. */
static void decode(const struct http_head *h, const char *in, size_t n, size_t step, int splice,
                   struct result *r)
{
	struct http_body b;
	http_body_init(&b, h);
	r->data = malloc(n + 1);
	char *tmp = malloc(n + 1);
	if (!r->data || !tmp)
		abort();
	r->len = 0;
	r->error = 0;
	size_t pos = 0;
	while (pos < n && !b.done) {
		uint64_t raw = http_body_raw_left(&b);
		if (splice && raw > 0) {
			size_t take = n - pos;
			if (raw < take)
				take = (size_t)raw;
			if (step && take > step)
				take = step;
			memcpy(r->data + r->len, in + pos, take);
			r->len += take;
			pos += take;
			http_body_raw_consumed(&b, take);
			continue;
		}
		size_t take = step ? step : n - pos;
		if (take > n - pos)
			take = n - pos;
		memcpy(tmp, in + pos, take);
		size_t dl = 0;
		const char *err = NULL;
		long used = http_body_decode(&b, tmp, take, &dl, &err);
		if (used < 0) {
			if (!err)
				abort();
			r->error = 1;
			break;
		}
		if ((size_t)used > take || dl > (size_t)used || ((size_t)used < take && !b.done))
			abort();
		memcpy(r->data + r->len, tmp, dl);
		r->len += dl;
		pos += (size_t)used;
	}
	r->done = b.done;
	if (b.done && http_body_raw_left(&b) != 0)
		abort();
	free(tmp);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	size_t step = data[0] % 17 + 1;
	const char *in = (const char *)data + 1;
	size_t n = size - 1;
	struct http_head h;
	const char *err = NULL;
	long hl = http_head_parse(in, n, &h, &err);
	if (hl < 0) {
		if (!err)
			abort();
		return 0;
	}
	if (hl == 0)
		return 0;
	if ((size_t)hl > n || h.status < 100 || h.status > 599 ||
	    strlen(h.location) >= sizeof(h.location) || (h.location_too_long && h.location[0]))
		abort();
	struct result a, b, c;
	decode(&h, in + hl, n - (size_t)hl, 0, 0, &a);
	decode(&h, in + hl, n - (size_t)hl, step, 0, &b);
	decode(&h, in + hl, n - (size_t)hl, step, 1, &c);
	if (a.error != b.error || a.error != c.error || a.done != b.done || a.done != c.done)
		abort();
	if (!a.error && (a.len != b.len || a.len != c.len || memcmp(a.data, b.data, a.len) != 0 ||
	                 memcmp(a.data, c.data, a.len) != 0))
		abort();
	free(a.data);
	free(b.data);
	free(c.data);
	return 0;
}
