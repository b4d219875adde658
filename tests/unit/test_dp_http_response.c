/* The playback response reader: heads (status, framing, Location, limits)
 * and bodies (length, chunked, until close) decoded in place and by the
 * count, split anywhere. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dataplane/http_response.h"

static long head(const char *s, struct http_head *h, const char **err)
{
	return http_head_parse(s, strlen(s), h, err);
}

static void test_head_chunked(void **state)
{
	(void)state;
	struct http_head h;
	const char *err;
	const char *s = "HTTP/1.1 200 OK\r\nContent-Type: video/mp2t\r\n"
	                "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\nGxx";
	assert_int_equal(head(s, &h, &err), (long)strlen(s) - 3);
	assert_int_equal(h.status, 200);
	assert_true(h.chunked);
	assert_int_equal(h.content_length, -1);
	assert_false(h.http10);
	/* every shorter prefix is incomplete, never an error */
	for (size_t i = 0; i < strlen(s) - 3; i++)
		assert_int_equal(http_head_parse(s, i, &h, &err), 0);
}

static void test_head_fields(void **state)
{
	(void)state;
	struct http_head h;
	const char *err;
	assert_true(head("HTTP/1.1 302 Found\nLocation:   /content/ab/t  \nContent-Length: 12\n\n",
	                 &h, &err) > 0);
	assert_int_equal(h.status, 302);
	assert_string_equal(h.location, "/content/ab/t");
	assert_int_equal(h.content_length, 12);
	assert_true(head("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, Chunked\r\n\r\n", &h, &err) >
	            0);
	assert_true(h.chunked);
	assert_true(head("HTTP/1.1 200 OK\r\nTransfer-Encoding: notchunked\r\n\r\n", &h, &err) > 0);
	assert_false(h.chunked);
	assert_true(head("HTTP/1.0 200\r\nTransfer-Encoding: chunked\r\n\r\n", &h, &err) > 0);
	assert_true(h.http10);
	assert_false(h.chunked);
	char big[3000] = "HTTP/1.1 301 Moved\r\nLocation: /";
	memset(big + strlen(big), 'a', 2500);
	strcpy(big + strlen(big), "\r\n\r\n");
	assert_true(head(big, &h, &err) > 0);
	assert_true(h.location_too_long);
	assert_string_equal(h.location, "");
}

static void test_head_refused(void **state)
{
	(void)state;
	struct http_head h;
	const char *err = NULL;
	assert_int_equal(head("ICY 200 OK\r\n\r\n", &h, &err), -1);
	assert_non_null(err);
	assert_int_equal(head("HTTP/2 200\r\n\r\n", &h, &err), -1);
	assert_int_equal(head("HTTP/1.1 20x OK\r\n\r\n", &h, &err), -1);
	assert_int_equal(head("HTTP/1.1 2000 OK\r\n\r\n", &h, &err), -1);
	assert_int_equal(head("HTTP/1.1 099 OK\r\n\r\n", &h, &err), -1);
	assert_int_equal(head("HTTP/1.1 200 OK\r\nContent-Length: 1x\r\n\r\n", &h, &err), -1);
	assert_int_equal(
	        head("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", &h, &err),
	        -1);
	/* a head that never ends is refused once it passes the limit */
	char *endless = malloc(HTTP_HEAD_MAX + 100);
	strcpy(endless, "HTTP/1.1 200 OK\r\n");
	size_t l = strlen(endless);
	while (l + 10 < HTTP_HEAD_MAX + 50) {
		memcpy(endless + l, "X-A: b\r\n", 8);
		l += 8;
	}
	assert_int_equal(http_head_parse(endless, HTTP_HEAD_MAX - 1, &h, &err), 0);
	assert_int_equal(http_head_parse(endless, l, &h, &err), -1);
	assert_string_equal(err, "response head too large");
	free(endless);
}

/* Decodes body `in` in pieces of `step` bytes (in place); returns the data. */
static char *decode_all(const struct http_head *h, const char *in, size_t n, size_t step,
                        size_t *len, int *rc, int *done)
{
	struct http_body b;
	http_body_init(&b, h);
	char *out = calloc(1, n + 1), buf[64];
	*len = 0;
	*rc = 0;
	size_t pos = 0;
	while (pos < n && !b.done) {
		size_t take = n - pos < step ? n - pos : step;
		memcpy(buf, in + pos, take);
		size_t dl;
		const char *err;
		long used = http_body_decode(&b, buf, take, &dl, &err);
		if (used < 0) {
			*rc = -1;
			break;
		}
		memcpy(out + *len, buf, dl);
		*len += dl;
		pos += (size_t)used;
	}
	*done = b.done;
	return out;
}

static void test_chunked_any_split(void **state)
{
	(void)state;
	struct http_head h = {.status = 200, .chunked = true, .content_length = -1};
	const char *body =
	        "5\r\nGabcd\r\n3;name=val\r\nG12\r\nA \r\n0123456789\r\n0\r\nX-T: 1\r\n\r\n";
	for (size_t step = 1; step <= 40; step++) {
		size_t len;
		int rc, done;
		char *out = decode_all(&h, body, strlen(body), step, &len, &rc, &done);
		assert_int_equal(rc, 0);
		assert_true(done);
		assert_int_equal(len, 18);
		assert_memory_equal(out, "GabcdG120123456789", 18);
		free(out);
	}
}

static void test_chunked_errors(void **state)
{
	(void)state;
	struct http_head h = {.status = 200, .chunked = true, .content_length = -1};
	const char *bad[] = {"x\r\n", "5\r\nGabcdEXTRA\r\n", "5\rX", "ffffffffffffffffff\r\n",
	                     "0\r\n\rX"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		size_t len;
		int rc, done;
		free(decode_all(&h, bad[i], strlen(bad[i]), 7, &len, &rc, &done));
		assert_int_equal(rc, -1);
	}
	/* a size line that never ends */
	struct http_body b;
	http_body_init(&b, &h);
	char line[5000] = "1;";
	memset(line + 2, 'e', sizeof(line) - 2);
	size_t dl;
	const char *err;
	assert_int_equal(http_body_decode(&b, line, sizeof(line), &dl, &err), -1);
	assert_string_equal(err, "chunk size line too long");
}

static void test_by_count(void **state)
{
	(void)state;
	/* the splice path: data moved by the count, framing decoded */
	struct http_head h = {.status = 200, .chunked = true, .content_length = -1};
	struct http_body b;
	http_body_init(&b, &h);
	assert_int_equal(http_body_raw_left(&b), 0);
	char f1[] = "10000\r\n";
	size_t dl;
	const char *err;
	assert_int_equal(http_body_decode(&b, f1, 7, &dl, &err), 7);
	assert_int_equal(dl, 0);
	assert_int_equal(http_body_raw_left(&b), 0x10000);
	http_body_raw_consumed(&b, 0x8000);
	assert_int_equal(http_body_raw_left(&b), 0x8000);
	http_body_raw_consumed(&b, 0x8000);
	assert_int_equal(http_body_raw_left(&b), 0);
	assert_false(http_body_complete_at_eof(&b)); /* cut inside the framing */
	char f2[] = "\r\n0\r\n\r\ntail";
	assert_int_equal(http_body_decode(&b, f2, 11, &dl, &err), 7);
	assert_true(b.done);
	assert_true(http_body_complete_at_eof(&b));

	struct http_head hl = {.status = 200, .content_length = 10};
	http_body_init(&b, &hl);
	assert_int_equal(http_body_raw_left(&b), 10);
	char d[] = "0123456789after";
	assert_int_equal(http_body_decode(&b, d, 15, &dl, &err), 10);
	assert_int_equal(dl, 10);
	assert_true(b.done);

	struct http_head hc = {.status = 200, .content_length = -1};
	http_body_init(&b, &hc);
	assert_int_equal(http_body_raw_left(&b), UINT64_MAX);
	assert_true(http_body_complete_at_eof(&b));
	struct http_head h204 = {.status = 204, .content_length = -1};
	http_body_init(&b, &h204);
	assert_true(b.done);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_head_chunked),   cmocka_unit_test(test_head_fields),
	        cmocka_unit_test(test_head_refused),   cmocka_unit_test(test_chunked_any_split),
	        cmocka_unit_test(test_chunked_errors), cmocka_unit_test(test_by_count),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
