/* Unit tests of the dataplane's pure modules: request head, query, ring,
 * engine answers. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dataplane/engine_answer.h"
#include "dataplane/http_request.h"
#include "dataplane/query.h"
#include "dataplane/ring.h"

static struct http_request *feed_all(const char *text, size_t max, int *rc, size_t *used)
{
	struct http_request *r;
	assert_int_equal(http_request_new(max, &r), 0);
	*rc = http_request_feed(r, text, strlen(text), used);
	return r;
}

static void test_request_ok(void **state)
{
	(void)state;
	int rc;
	size_t used = 0;
	const char *t = "GET /ace/getstream?id=abc&x=%20 HTTP/1.1\r\nHost: h:1\r\n"
	                "X-Forwarded-For: 1.2.3.4\r\nAuthorization: Bearer t\r\n\r\nGET /next";
	struct http_request *r = feed_all(t, 16384, &rc, &used);
	assert_int_equal(rc, HTTP_REQ_DONE);
	assert_int_equal(used, strlen(t) - strlen("GET /next"));
	assert_int_equal(http_request_method(r), HTTP_REQ_GET);
	assert_string_equal(http_request_path(r), "/ace/getstream");
	assert_string_equal(http_request_query(r), "id=abc&x=%20");
	assert_string_equal(http_request_header(r, "host"), "h:1");
	assert_string_equal(http_request_header(r, "X-Forwarded-For"), "1.2.3.4");
	assert_string_equal(http_request_header(r, "authorization"), "Bearer t");
	assert_true(http_request_keep_alive(r));
	/* reuse for the next request (keep-alive) */
	http_request_reset(r);
	const char *t2 = "HEAD /livez HTTP/1.0\r\n\r\n";
	assert_int_equal(http_request_feed(r, t2, strlen(t2), &used), HTTP_REQ_DONE);
	assert_int_equal(http_request_method(r), HTTP_REQ_HEAD);
	assert_false(http_request_keep_alive(r));
	assert_string_equal(http_request_query(r), "");
	http_request_free(r);
}

static void test_request_incremental(void **state)
{
	(void)state;
	const char *t = "GET /a?b=c HTTP/1.1\r\nHost: x\r\n\r\n";
	struct http_request *r;
	assert_int_equal(http_request_new(16384, &r), 0);
	size_t used;
	for (size_t i = 1; i < strlen(t); i++)
		assert_int_equal(http_request_feed(r, t, i, &used), HTTP_REQ_NEED_MORE);
	assert_int_equal(http_request_feed(r, t, strlen(t), &used), HTTP_REQ_DONE);
	assert_string_equal(http_request_path(r), "/a");
	http_request_free(r);
}

static void test_request_errors(void **state)
{
	(void)state;
	int rc;
	size_t used;
	struct http_request *r = feed_all("BLAH\r\n\r\n", 16384, &rc, &used);
	assert_true(rc < 0);
	assert_int_equal(http_request_error_status(r), 400);
	http_request_free(r);
	r = feed_all("POST /x HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello", 16384, &rc, &used);
	assert_true(rc < 0);
	assert_int_equal(http_request_error_status(r), 400);
	http_request_free(r);
	char big[3000];
	snprintf(big, sizeof(big), "GET / HTTP/1.1\r\nX: %02000d\r\n\r\n", 0);
	r = feed_all(big, 1024, &rc, &used);
	assert_true(rc < 0);
	assert_int_equal(http_request_error_status(r), 431);
	http_request_free(r);
	r = feed_all("GET http://x/y HTTP/1.1\r\n\r\n", 16384, &rc, &used);
	assert_true(rc < 0);
	http_request_free(r);
	r = feed_all("PUT /x HTTP/1.1\r\n\r\n", 16384, &rc, &used);
	assert_int_equal(rc, HTTP_REQ_DONE);
	assert_int_equal(http_request_method(r), HTTP_REQ_OTHER);
	http_request_free(r);
}

static struct viewer_query *q_ok(const char *s)
{
	struct viewer_query *q = NULL;
	char err[256] = "";
	int rc = viewer_query_parse(s, strlen(s), &q, err, sizeof(err));
	if (rc != 0)
		fail_msg("query %s: %s", s, err);
	return q;
}

static void q_bad(const char *s, const char *needle)
{
	struct viewer_query *q = NULL;
	char err[256] = "";
	assert_int_equal(viewer_query_parse(s, strlen(s), &q, err, sizeof(err)), -EINVAL);
	assert_null(q);
	if (!strstr(err, needle))
		fail_msg("query %s: error '%s' lacks '%s'", s, err, needle);
}

static void test_query(void **state)
{
	(void)state;
	struct viewer_query *q = q_ok("id=abc&transcode_audio=1&x%20y=a%2Bb&token=t");
	assert_string_equal(viewer_query_key_type(q), "content_id");
	assert_string_equal(viewer_query_key(q), "abc");
	char buf[512];
	assert_int_equal(viewer_query_engine_query(q, "p1", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "id=abc&transcode_audio=1&x%20y=a%2Bb&format=json&pid=p1");
	assert_int_equal(viewer_query_engine_query(q, "p1", buf, 10), -ENOSPC);
	const char *mk = viewer_query_mux_key(q);
	assert_non_null(strstr(mk, "content_id:abc"));
	assert_non_null(strstr(mk, "transcode_audio=1"));
	assert_null(strstr(mk, "token"));
	viewer_query_free(q);
	q = q_ok("infohash=0123456789abcdef0123456789abcdef01234567");
	assert_string_equal(viewer_query_key_type(q), "infohash");
	viewer_query_free(q);
	q = q_ok("url=http%3A%2F%2Fx%2Fa.torrent");
	assert_string_equal(viewer_query_key(q), "http://x/a.torrent");
	viewer_query_free(q);
	q = q_ok("magnet=magnet:?xt=urn:btih:abc");
	assert_string_equal(viewer_query_key_type(q), "magnet");
	viewer_query_free(q);
	q = q_ok("content_id=zz&&format=ts");
	assert_int_equal(viewer_query_engine_query(q, "p", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "content_id=zz&format=json&pid=p");
	viewer_query_free(q);
	q_bad("", "missing content parameter");
	q_bad("x=1", "missing content parameter");
	q_bad("id=a&infohash=b", "exactly one");
	q_bad("id=a&id=b", "exactly one");
	q_bad("id=", "empty");
	q_bad("id=a&pid=1", "pid");
	q_bad("id=a&sid=1", "sid");
	q_bad("id=%zz", "percent");
	q_bad("id=a%", "percent");
	q_bad("id=a%00", "percent");
	char many[2000] = "id=a";
	for (int i = 0; i < 70; i++)
		strcat(many, "&p=1");
	q_bad(many, "too many");
	char out[8];
	assert_int_equal(query_decode("a+b%41", 6, out, sizeof(out)), 0);
	assert_string_equal(out, "a bA");
}

static void test_ring_basic(void **state)
{
	(void)state;
	struct ring *r;
	struct ring_reader *rd;
	assert_int_equal(ring_new(1000, 64, &r), 0);
	assert_int_equal(ring_memory(r), 0);
	assert_int_equal(ring_reader_attach(r, 0, &rd), 0);
	assert_int_equal(ring_write_space(r), 1000);
	char data[1200];
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (char)i;
	assert_int_equal(ring_write(r, data, 1200), 1000); /* capped by the reader */
	assert_int_equal(ring_write_space(r), 0);
	assert_int_equal(ring_reader_lag(rd), 1000);
	struct iovec iov[32];
	int n = ring_reader_iov(rd, iov, 32, 100000);
	size_t total = 0;
	for (int i = 0; i < n; i++) {
		assert_memory_equal(iov[i].iov_base, data + total, iov[i].iov_len);
		total += iov[i].iov_len;
	}
	assert_int_equal(total, 1000);
	assert_int_equal(ring_reader_iov(rd, iov, 2, 100000), 2); /* limited by max */
	n = ring_reader_iov(rd, iov, 32, 10);
	assert_int_equal(n, 1);
	assert_int_equal(iov[0].iov_len, 10);
	ring_reader_consume(rd, 1000);
	assert_int_equal(ring_reader_lag(rd), 0);
	assert_true(ring_memory(r) <= 2 * 64); /* at most the partial chunk + a spare */
	/* wrap-around: keep writing and reading in odd sizes */
	uint64_t w = 1000, rpos = 1000;
	for (int round = 0; round < 500; round++) {
		size_t len = (size_t)(round * 37 % 300) + 1;
		char buf[300];
		for (size_t i = 0; i < len; i++)
			buf[i] = (char)((w + i) * 7);
		long got = ring_write(r, buf, len);
		assert_true(got >= 0);
		w += (uint64_t)got;
		size_t take = (size_t)(round * 53 % 400);
		n = ring_reader_iov(rd, iov, 32, take);
		for (int i = 0; i < n; i++) {
			for (size_t j = 0; j < iov[i].iov_len; j++)
				assert_int_equal(((char *)iov[i].iov_base)[j],
				                 (char)((rpos + j) * 7));
			rpos += iov[i].iov_len;
			ring_reader_consume(rd, iov[i].iov_len);
		}
		assert_true(ring_memory(r) <= 1000 + 3 * 64);
	}
	ring_reader_detach(rd);
	ring_free(r);
}

static void test_ring_two_readers(void **state)
{
	(void)state;
	struct ring *r;
	struct ring_reader *a, *b;
	assert_int_equal(ring_new(256, 64, &r), 0);
	assert_int_equal(ring_reader_attach(r, 0, &a), 0);
	char d[256] = {0};
	assert_int_equal(ring_write(r, d, 200), 200);
	assert_int_equal(ring_reader_attach(r, 150, &b), 0); /* joins behind the edge */
	assert_int_equal(ring_reader_pos(b), 150);
	ring_reader_consume(a, 200);
	assert_int_equal(ring_write_space(r), 256 - 50); /* b is the slowest */
	ring_reader_consume(b, 1000);                    /* clamped */
	assert_int_equal(ring_reader_lag(b), 0);
	assert_int_equal(ring_write_space(r), 256);
	ring_reader_detach(a);
	ring_reader_detach(NULL);
	ring_free(r); /* frees b too */
	assert_int_equal(ring_new(0, 64, &r), -EINVAL);
}

static void test_engine_answer(void **state)
{
	(void)state;
	struct engine_answer a;
	char why[256];
	const char *ok = "{\"response\": {\"playback_url\": \"http://e:6878/ace/r/ih/tok\", "
	                 "\"stat_url\": \"http://e:6878/ace/stat/ih/tok\", \"command_url\": "
	                 "\"http://e:6878/ace/cmd/ih/tok\", \"infohash\": \"ih\", "
	                 "\"playback_session_id\": \"ps\", \"is_live\": 1, \"is_encrypted\": 0, "
	                 "\"client_session_id\": -1}, \"error\": null}";
	assert_int_equal(engine_answer_parse(ok, strlen(ok), &a, why, sizeof(why)), 0);
	assert_string_equal(a.playback_url, "http://e:6878/ace/r/ih/tok");
	assert_string_equal(a.command_url, "http://e:6878/ace/cmd/ih/tok");
	assert_string_equal(a.playback_session_id, "ps");
	assert_true(a.is_live);
	const struct {
		const char *body, *needle;
	} bad[] = {
	        {"{\"response\": null, \"error\": \"failed to load content\"}",
	         "failed to load content"},
	        {"{\"response\": null, \"error\": {\"message\": \"boom\", \"code\": 7}}",
	         "boom (code 7)"},
	        {"{\"response\": null, \"error\": null}", "no response"},
	        {"not json", "invalid JSON"},
	        {"[1,2]", "not a JSON object"},
	        {"{\"response\": {\"stat_url\": \"http://x\"}}", "playback_url"},
	        {"{\"response\": {\"playback_url\": \"/ace/r/x\"}}", "playback_url"},
	        {"{\"response\": {\"playback_url\": 5}}", "playback_url"},
	        {"{\"response\": {\"playback_url\": \"http://x\", \"command_url\": \"/c\"}}",
	         "relative"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why[0] = '\0';
		assert_int_equal(
		        engine_answer_parse(bad[i].body, strlen(bad[i].body), &a, why, sizeof(why)),
		        -EINVAL);
		if (!strstr(why, bad[i].needle))
			fail_msg("%s: '%s' lacks '%s'", bad[i].body, why, bad[i].needle);
	}
	struct engine_stat st;
	const char *s1 = "{\"response\": {}}";
	assert_int_equal(engine_stat_parse(s1, strlen(s1), &st), 0);
	assert_true(st.known && st.empty);
	const char *s2 = "{\"response\": {\"status\": \"dl\", \"peers\": 9, \"speedDown\": 300, "
	                 "\"speed_up\": 5, \"downloaded\": 100, \"total_progress\": 0}}";
	assert_int_equal(engine_stat_parse(s2, strlen(s2), &st), 0);
	assert_string_equal(st.status, "dl");
	assert_int_equal(st.peers, 9);
	assert_int_equal(st.speed_down, 300);
	const char *s3 = "{\"response\": null, \"error\": \"unknown playback session id\"}";
	assert_int_equal(engine_stat_parse(s3, strlen(s3), &st), 0);
	assert_false(st.known);
	assert_int_equal(engine_stat_parse("x", 1, &st), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_request_ok),     cmocka_unit_test(test_request_incremental),
	        cmocka_unit_test(test_request_errors), cmocka_unit_test(test_query),
	        cmocka_unit_test(test_ring_basic),     cmocka_unit_test(test_ring_two_readers),
	        cmocka_unit_test(test_engine_answer),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
