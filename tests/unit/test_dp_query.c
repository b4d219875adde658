/* Unit tests of the viewer query (dataplane/query.h). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dataplane/query.h"

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
	assert_null(strchr(err, '\n'));
}

/* The engine query for pid "P". */
static void engine_query_is(const char *query, const char *want)
{
	struct viewer_query *q = q_ok(query);
	char buf[1024];
	assert_int_equal(viewer_query_engine_query(q, "P", buf, sizeof(buf)), 0);
	assert_string_equal(buf, want);
	viewer_query_free(q);
}

static void mux_key_is(const char *query, const char *want)
{
	struct viewer_query *q = q_ok(query);
	assert_string_equal(viewer_query_mux_key(q), want);
	viewer_query_free(q);
}

static void test_query_keys(void **state)
{
	(void)state;
	struct viewer_query *q = q_ok("id=abc&transcode_audio=1&x%20y=a%2Bb&token=t");
	assert_string_equal(viewer_query_key_type(q), "content_id");
	assert_string_equal(viewer_query_key(q), "abc");
	assert_string_equal(viewer_query_get(q, "token"), "t");
	assert_string_equal(viewer_query_get(q, "x y"), "a+b");
	assert_null(viewer_query_get(q, "nope"));
	viewer_query_free(q);
	q = q_ok("content_id=abc");
	assert_string_equal(viewer_query_key_type(q), "content_id");
	viewer_query_free(q);
	q = q_ok("infohash=0123456789abcdef0123456789abcdef01234567");
	assert_string_equal(viewer_query_key_type(q), "infohash");
	viewer_query_free(q);
	q = q_ok("url=http%3A%2F%2Fx%2Fa.torrent");
	assert_string_equal(viewer_query_key_type(q), "url");
	assert_string_equal(viewer_query_key(q), "http://x/a.torrent");
	viewer_query_free(q);
	q = q_ok("magnet=magnet:?xt=urn:btih:abc");
	assert_string_equal(viewer_query_key_type(q), "magnet");
	assert_string_equal(viewer_query_key(q), "magnet:?xt=urn:btih:abc");
	viewer_query_free(q);
	q = q_ok("i%64=abc+d"); /* names are decoded too */
	assert_string_equal(viewer_query_key_type(q), "content_id");
	assert_string_equal(viewer_query_key(q), "abc d");
	viewer_query_free(q);
	viewer_query_free(NULL);
}

static void test_query_errors(void **state)
{
	(void)state;
	q_bad("", "missing content parameter: one of id, content_id, infohash, url, magnet");
	q_bad("x=1&token=t", "missing content parameter");
	q_bad("ID=1", "missing content parameter"); /* names are case-sensitive */
	q_bad("id=a&infohash=b", "got id and infohash");
	q_bad("id=a&id=b", "exactly one");
	q_bad("url=a&magnet=b&id=c", "got url and magnet and more");
	q_bad("id=", "'id' is empty");
	q_bad("content_id", "'content_id' is empty");
	q_bad("id=%FF%FE", "parameter 'id' is not valid UTF-8");
	q_bad("infohash=%C0%AF", "parameter 'infohash' is not valid UTF-8"); /* overlong */
	q_bad("url=%ED%A0%80", "not valid UTF-8");                           /* surrogate */
	q_bad("id=ab%E2%82", "not valid UTF-8");                             /* cut short */
	mux_key_is("id=%C3%A9%E2%82%AC", "content_id:%C3%A9%E2%82%AC");
	q_bad("id=%zz", "percent");
	q_bad("id=a%", "percent");
	q_bad("id=a%4", "percent");
	q_bad("id=a%00", "percent");
	q_bad("x%=1&id=a", "'x%'");
	q_bad("id=a b", "invalid character");
	q_bad("id=a#b", "invalid character");
	q_bad("id=a\tb", "invalid character");
	char many[2000] = "id=a";
	for (int i = 1; i < QUERY_MAX_PARAMS; i++)
		strcat(many, "&p=1");
	struct viewer_query *q = q_ok(many); /* exactly the limit */
	viewer_query_free(q);
	strcat(many, "&p=1");
	q_bad(many, "too many");
	char *longq = malloc(QUERY_TEXT_MAX + 2);
	memset(longq, 'a', QUERY_TEXT_MAX + 1);
	memcpy(longq, "id=", 3);
	longq[QUERY_TEXT_MAX] = '\0';
	q = q_ok(longq); /* exactly the limit */
	viewer_query_free(q);
	longq[QUERY_TEXT_MAX] = 'a';
	longq[QUERY_TEXT_MAX + 1] = '\0';
	q_bad(longq, "too long");
	free(longq);
}

static void test_query_engine(void **state)
{
	(void)state;
	/* content parameter first, as the viewer named it; rest in order, raw;
	 * token and format dropped; empty pieces dropped */
	engine_query_is("transcode_audio=1&id=abc&x%20y=a%2Bb&token=t",
	                "id=abc&transcode_audio=1&x%20y=a%2Bb&format=json&pid=P");
	engine_query_is("content_id=zz&&format=ts&", "content_id=zz&format=json&pid=P");
	engine_query_is("url=http%3A%2F%2Fx%2Fa&flag&b=",
	                "url=http%3A%2F%2Fx%2Fa&flag&b=&format=json&pid=P");
	engine_query_is("i%64=x", "i%64=x&format=json&pid=P");
	struct viewer_query *q = q_ok("id=abc&a=1");
	char buf[64];
	memset(buf, 'Z', sizeof(buf));
	const char *want = "id=abc&a=1&format=json&pid=P";
	assert_int_equal(viewer_query_engine_query(q, "P", buf, strlen(want)), -ENOSPC);
	assert_int_equal(buf[0], 'Z'); /* untouched */
	assert_int_equal(viewer_query_engine_query(q, "P", buf, strlen(want) + 1), 0);
	assert_string_equal(buf, want);
	assert_int_equal(viewer_query_engine_query(q, "", buf, sizeof(buf)), -EINVAL);
	assert_int_equal(viewer_query_engine_query(q, "a&b", buf, sizeof(buf)), -EINVAL);
	assert_int_equal(viewer_query_engine_query(q, "a b", buf, sizeof(buf)), -EINVAL);
	assert_int_equal(viewer_query_engine_query(q, "0123abcd-._~", buf, sizeof(buf)), 0);
	viewer_query_free(q);
}

/* A viewer's pid/sid (issue 20 item 4, issue 22 item 10): accepted and
 * dropped, recognised however an engine might read the name; the proxy's
 * own pid is the only one the engine gets. */
static void test_query_viewer_ids(void **state)
{
	(void)state;
	engine_query_is("id=a&pid=1", "id=a&format=json&pid=P");
	engine_query_is("sid=9&id=a", "id=a&format=json&pid=P");
	engine_query_is("id=a&PID=1&SID=2&Pid=3&pid%20=4&p%69d=5&+sid=6&pid+=7&%09sid%0D=8"
	                "&%C2%A0pid=9&pid%E3%80%80=10&pid&sid=",
	                "id=a&format=json&pid=P");
	struct viewer_query *q = q_ok("id=a&PID=1&sid=2&x=1");
	assert_int_equal(viewer_query_dropped_ids(q), 2);
	assert_string_equal(viewer_query_mux_key(q), "content_id:a&x=1");
	viewer_query_free(q);
	q = q_ok("id=a");
	assert_int_equal(viewer_query_dropped_ids(q), 0);
	viewer_query_free(q);
	/* ';' is no separator here, and is sent as %3B so that no engine
	 * splits on it either */
	engine_query_is("id=a&x=1;pid=2", "id=a&x=1%3Bpid=2&format=json&pid=P");
	engine_query_is("id=a;pid=2", "id=a%3Bpid=2&format=json&pid=P");
	engine_query_is("id=a&;sid=2;", "id=a&%3Bsid=2%3B&format=json&pid=P");
	/* other names that merely contain the letters are the engine's */
	engine_query_is("id=a&pidx=1&spid=2&pi%20d=3&p-id=4",
	                "id=a&pidx=1&spid=2&pi%20d=3&p-id=4&format=json&pid=P");
	/* the proxy's own parameters, spelled any way, are not forwarded */
	engine_query_is("id=a&TOKEN=s&Format=ts&token%20=t", "id=a&format=json&pid=P");
	/* room for the %3B */
	q = q_ok("id=a;b");
	char buf[64];
	const char *want = "id=a%3Bb&format=json&pid=P";
	assert_int_equal(viewer_query_engine_query(q, "P", buf, strlen(want)), -ENOSPC);
	assert_int_equal(viewer_query_engine_query(q, "P", buf, strlen(want) + 1), 0);
	assert_string_equal(buf, want);
	viewer_query_free(q);
}

static void test_query_mux_key(void **state)
{
	(void)state;
	mux_key_is("id=abc", "content_id:abc");
	mux_key_is("content_id=abc&token=x&format=ts", "content_id:abc");
	/* sorted, decoded, canonically encoded: spelling does not matter */
	mux_key_is("id=abc&transcode_mp3=1&preferred_audio_language=eng&transcode_audio=1",
	           "content_id:abc&preferred_audio_language=eng&transcode_audio=1&transcode_mp3=1");
	mux_key_is("transcode%5Faudio=1&id=abc", "content_id:abc&transcode_audio=1");
	mux_key_is("id=abc&z=a+b&flag", "content_id:abc&flag=&z=a%20b");
	/* a key holding '&' cannot be confused with a parameter */
	mux_key_is("url=http%3A%2F%2Fx%2Fa%26b%3D1", "url:http://x/a%26b%3D1");
	mux_key_is("url=http%3A%2F%2Fx%2Fa&b=1", "url:http://x/a&b=1");
	mux_key_is("infohash=0123456789ABCDEF0123456789abcdef01234567",
	           "infohash:0123456789abcdef0123456789abcdef01234567");
	mux_key_is("infohash=ABC", "infohash:ABC"); /* not an infohash: as is */
	mux_key_is("magnet=magnet:?xt=urn:btih:abc", "magnet:magnet:%3Fxt%3Durn:btih:abc");
	/* ids differ: keys differ */
	struct viewer_query *a = q_ok("id=abc&transcode_audio=1");
	struct viewer_query *b = q_ok("id=abc&transcode_audio=0");
	assert_string_not_equal(viewer_query_mux_key(a), viewer_query_mux_key(b));
	viewer_query_free(a);
	viewer_query_free(b);
}

static void test_query_decode(void **state)
{
	(void)state;
	char out[8];
	assert_int_equal(query_decode("a+b%41%6a", 9, out, sizeof(out)), 0);
	assert_string_equal(out, "a bAj");
	assert_int_equal(query_decode("", 0, out, 1), 0);
	assert_string_equal(out, "");
	assert_int_equal(query_decode("", 0, out, 0), -ENOSPC);
	assert_int_equal(query_decode("abcdefgh", 8, out, sizeof(out)), -ENOSPC);
	assert_int_equal(query_decode("abcdefg", 7, out, sizeof(out)), 0);
	assert_int_equal(query_decode("%G0", 3, out, sizeof(out)), -EINVAL);
	assert_int_equal(query_decode("%0", 2, out, sizeof(out)), -EINVAL);
	assert_int_equal(query_decode("%00", 3, out, sizeof(out)), -EINVAL);
	assert_true(query_is_infohash("0123456789abcdef0123456789ABCDEF01234567"));
	assert_false(query_is_infohash("0123456789abcdef0123456789ABCDEF0123456"));
	assert_false(query_is_infohash("0123456789abcdef0123456789ABCDEF012345678"));
	assert_false(query_is_infohash("0123456789abcdef0123456789ABCDEF0123456g"));
	assert_false(query_is_infohash(""));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_query_keys),   cmocka_unit_test(test_query_errors),
	        cmocka_unit_test(test_query_engine), cmocka_unit_test(test_query_mux_key),
	        cmocka_unit_test(test_query_decode), cmocka_unit_test(test_query_viewer_ids),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
