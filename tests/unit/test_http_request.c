/* Unit tests of the viewer request head parser (include/acexy/http_request.h). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "acexy/http_request.h"

static struct http_request *feed_all(const char *text, size_t max, int *rc, size_t *used)
{
	struct http_request *r;
	assert_int_equal(http_request_new(max, &r), 0);
	*rc = http_request_feed(r, text, strlen(text), used);
	return r;
}

/* Expects an error with this status. */
static void bad(const char *text, size_t max, int status)
{
	int rc;
	size_t used = 12345;
	struct http_request *r = feed_all(text, max, &rc, &used);
	if (rc != (status == 431 ? -E2BIG : -EINVAL) || http_request_error_status(r) != status)
		fail_msg("'%s': rc %d status %d (%s), expected %d", text, rc,
		         http_request_error_status(r), http_request_error_reason(r), status);
	assert_int_equal(used, 12345); /* untouched on failure */
	assert_non_null(http_request_error_reason(r));
	assert_null(strchr(http_request_error_reason(r), '\n'));
	/* stays failed */
	assert_int_equal(http_request_feed(r, text, strlen(text), &used), rc);
	http_request_free(r);
}

static void test_request_ok(void **state)
{
	(void)state;
	int rc;
	size_t used = 0;
	const char *t = "GET /ace/getstream?id=abc&x=%20 HTTP/1.1\r\nHost: h:1\r\n"
	                "X-Forwarded-For: 1.2.3.4\r\nAuthorization: Bearer t\r\n"
	                "Range: bytes=0-\r\nx-forwarded-for: 5.6.7.8\r\n\r\nGET /next";
	struct http_request *r = feed_all(t, 16384, &rc, &used);
	assert_int_equal(rc, HTTP_REQ_DONE);
	assert_int_equal(used, strlen(t) - strlen("GET /next"));
	assert_int_equal(http_request_method(r), HTTP_REQ_GET);
	assert_string_equal(http_request_method_name(r), "GET");
	assert_string_equal(http_request_path(r), "/ace/getstream");
	assert_string_equal(http_request_query(r), "id=abc&x=%20");
	assert_int_equal(http_request_version(r), 11);
	assert_string_equal(http_request_header(r, "host"), "h:1");
	assert_string_equal(http_request_header(r, "X-Forwarded-For"), "1.2.3.4, 5.6.7.8");
	assert_string_equal(http_request_header(r, "authorization"), "Bearer t");
	assert_string_equal(http_request_header(r, "range"), "bytes=0-");
	assert_string_equal(http_request_header(r, "connection"), "");
	assert_string_equal(http_request_header(r, "user-agent"), "");
	assert_true(http_request_keep_alive(r));
	/* misuse: feeding a finished request */
	assert_int_equal(http_request_feed(r, t, strlen(t), &used), -EINVAL);
	/* reuse for the next request (keep-alive) */
	http_request_reset(r);
	const char *t2 = "HEAD /livez HTTP/1.0\r\n\r\n";
	assert_int_equal(http_request_feed(r, t2, strlen(t2), &used), HTTP_REQ_DONE);
	assert_int_equal(used, strlen(t2));
	assert_int_equal(http_request_method(r), HTTP_REQ_HEAD);
	assert_int_equal(http_request_version(r), 10);
	assert_false(http_request_keep_alive(r));
	assert_string_equal(http_request_query(r), "");
	assert_string_equal(http_request_header(r, "host"), ""); /* reset */
	http_request_reset(r);
	const char *t3 = "GET /a HTTP/1.1\r\nConnection: close\r\n\r\n";
	assert_int_equal(http_request_feed(r, t3, strlen(t3), &used), HTTP_REQ_DONE);
	assert_false(http_request_keep_alive(r));
	assert_string_equal(http_request_header(r, "Connection"), "close");
	http_request_reset(r);
	const char *t4 = "GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n";
	assert_int_equal(http_request_feed(r, t4, strlen(t4), &used), HTTP_REQ_DONE);
	assert_true(http_request_keep_alive(r));
	http_request_free(r);
	http_request_free(NULL);
}

static void test_request_pipelined(void **state)
{
	(void)state;
	const char *t = "GET /a HTTP/1.1\r\n\r\nGET /b?q HTTP/1.1\r\n\r\nGET /c HTTP/1.1\r\n";
	struct http_request *r;
	assert_int_equal(http_request_new(16384, &r), 0);
	size_t used, off = 0;
	const char *want[] = {"/a", "/b"};
	for (int i = 0; i < 2; i++) {
		assert_int_equal(http_request_feed(r, t + off, strlen(t + off), &used),
		                 HTTP_REQ_DONE);
		assert_string_equal(http_request_path(r), want[i]);
		off += used;
		http_request_reset(r);
	}
	assert_string_equal(http_request_query(r), "");
	assert_int_equal(http_request_feed(r, t + off, strlen(t + off), &used), HTTP_REQ_NEED_MORE);
	http_request_free(r);
}

static void test_request_incremental(void **state)
{
	(void)state;
	const char *t = "GET /a?b=c HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: 1\r\n"
	                "X-Forwarded-For: 2\r\nAuthorization: Basic abc\r\n\r\n";
	struct http_request *r;
	assert_int_equal(http_request_new(16384, &r), 0);
	size_t used;
	assert_int_equal(http_request_feed(r, t, 0, &used), HTTP_REQ_NEED_MORE);
	for (size_t i = 1; i < strlen(t); i++)
		assert_int_equal(http_request_feed(r, t, i, &used), HTTP_REQ_NEED_MORE);
	assert_int_equal(http_request_feed(r, t, strlen(t), &used), HTTP_REQ_DONE);
	assert_int_equal(used, strlen(t));
	assert_string_equal(http_request_path(r), "/a");
	assert_string_equal(http_request_query(r), "b=c");
	assert_string_equal(http_request_header(r, "host"), "x");
	assert_string_equal(http_request_header(r, "x-forwarded-for"), "1, 2");
	assert_string_equal(http_request_header(r, "authorization"), "Basic abc");
	/* feeding a shorter prefix than before is misuse */
	http_request_reset(r);
	assert_int_equal(http_request_feed(r, t, 10, &used), HTTP_REQ_NEED_MORE);
	assert_int_equal(http_request_feed(r, t, 5, &used), -EINVAL);
	http_request_free(r);
}

static void test_request_targets(void **state)
{
	(void)state;
	const struct {
		const char *text, *path, *query;
	} ok[] = {
	        {"GET http://h:6878/ace/getstream?id=1 HTTP/1.1\r\n\r\n", "/ace/getstream", "id=1"},
	        {"GET HTTP://h HTTP/1.1\r\n\r\n", "/", ""},
	        {"GET https://h?x=1 HTTP/1.1\r\n\r\n", "/", "x=1"},
	        {"GET /p?a=1#frag HTTP/1.1\r\n\r\n", "/p", "a=1"},
	        {"GET /p#frag?x HTTP/1.1\r\n\r\n", "/p", ""},
	        {"GET /p? HTTP/1.1\r\n\r\n", "/p", ""},
	        {"GET /%41?b=%20&c HTTP/1.1\r\n\r\n", "/%41", "b=%20&c"},
	        {"OPTIONS * HTTP/1.1\r\n\r\n", "*", ""},
	};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		int rc;
		size_t used;
		struct http_request *r = feed_all(ok[i].text, 16384, &rc, &used);
		if (rc != HTTP_REQ_DONE)
			fail_msg("'%s': %d %s", ok[i].text, rc, http_request_error_reason(r));
		assert_string_equal(http_request_path(r), ok[i].path);
		assert_string_equal(http_request_query(r), ok[i].query);
		http_request_free(r);
	}
}

static void test_request_errors(void **state)
{
	(void)state;
	bad("BLAH\r\n\r\n", 16384, 400);
	bad("GET\r\n\r\n", 16384, 400);
	bad("GET / HTTP/1.1\r\nbad header\r\n\r\n", 16384, 400);
	bad("GET x/y HTTP/1.1\r\n\r\n", 16384, 400);
	bad("GET http:///y HTTP/1.1\r\n\r\n", 16384, 400);
	bad("POST /x HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello", 16384, 400);
	bad("GET /x HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", 16384, 400);
	bad("GET /x HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 16384, 400);
	bad("GET /x HTTP/1.1\r\nAuthorization: a\r\nauthorization: b\r\n\r\n", 16384, 400);
	bad("GET /x HTTP/1.1\r\nRange: a\r\nRange: b\r\n\r\n", 16384, 400);
	char big[3000];
	snprintf(big, sizeof(big), "GET / HTTP/1.1\r\nX: %02000d\r\n\r\n", 0);
	bad(big, 1024, 431);
	snprintf(big, sizeof(big), "GET /%02000d HTTP/1.1\r\n\r\n", 0);
	bad(big, 1024, 431);
	snprintf(big, sizeof(big), "GET / HTTP/1.1\r\nHost: %0300d\r\n\r\n", 0);
	bad(big, 16384, 431); /* a kept value beyond its own limit */
	/* an unkept header may be long: only the head limit applies */
	snprintf(big, sizeof(big), "GET / HTTP/1.1\r\nX-Long-Name-%0100d: %02000d\r\n\r\n", 0, 0);
	int rc;
	size_t used;
	struct http_request *r = feed_all(big, 16384, &rc, &used);
	assert_int_equal(rc, HTTP_REQ_DONE);
	http_request_free(r);
	/* other methods are parsed; the caller answers 405 */
	r = feed_all("PUT /x HTTP/1.1\r\n\r\n", 16384, &rc, &used);
	assert_int_equal(rc, HTTP_REQ_DONE);
	assert_int_equal(http_request_method(r), HTTP_REQ_OTHER);
	assert_string_equal(http_request_method_name(r), "PUT");
	http_request_free(r);
	assert_int_equal(http_request_new(0, &r), -EINVAL);
}

static void test_request_head_limit(void **state)
{
	(void)state;
	/* a head of exactly max bytes passes; one more byte is too large */
	const char *t = "GET /abc HTTP/1.1\r\nHost: x\r\n\r\n";
	size_t len = strlen(t);
	int rc;
	size_t used;
	struct http_request *r = feed_all(t, len, &rc, &used);
	assert_int_equal(rc, HTTP_REQ_DONE);
	assert_int_equal(used, len);
	http_request_free(r);
	r = feed_all(t, len - 1, &rc, &used);
	assert_int_equal(rc, -E2BIG);
	assert_int_equal(http_request_error_status(r), 431);
	http_request_free(r);
	/* pipelined bytes beyond the limit do not count against this head */
	char two[200];
	snprintf(two, sizeof(two), "%s%s", t, t);
	r = feed_all(two, len, &rc, &used);
	assert_int_equal(rc, HTTP_REQ_DONE);
	assert_int_equal(used, len);
	http_request_free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_request_ok),
	        cmocka_unit_test(test_request_pipelined),
	        cmocka_unit_test(test_request_incremental),
	        cmocka_unit_test(test_request_targets),
	        cmocka_unit_test(test_request_errors),
	        cmocka_unit_test(test_request_head_limit),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
