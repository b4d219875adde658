/* Unit tests of the engine answer parsers (include/acexy/engine_answer.h). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "acexy/engine_answer.h"

static void answer_bad(const char *body, const char *needle)
{
	struct engine_answer a;
	memset(&a, 0x5a, sizeof(a));
	char why[256] = "";
	assert_int_equal(engine_answer_parse(body, strlen(body), &a, why, sizeof(why)), -EINVAL);
	if (!strstr(why, needle))
		fail_msg("%s: '%s' lacks '%s'", body, why, needle);
	assert_null(strchr(why, '\n'));
	assert_int_equal((unsigned char)a.playback_url[0], 0x5a); /* untouched */
}

static void test_answer_ok(void **state)
{
	(void)state;
	struct engine_answer a;
	char why[256];
	/* CONTRACTS.md §1 */
	const char *ok = "{\"response\": {\"playback_url\": \"http://e:6878/ace/r/ih/tok\", "
	                 "\"stat_url\": \"http://e:6878/ace/stat/ih/tok\", \"command_url\": "
	                 "\"http://e:6878/ace/cmd/ih/tok\", \"infohash\": \"ih\", "
	                 "\"playback_session_id\": \"ps\", \"is_live\": 1, \"is_encrypted\": 0, "
	                 "\"client_session_id\": -1}, \"error\": null}";
	assert_int_equal(engine_answer_parse(ok, strlen(ok), &a, why, sizeof(why)), 0);
	assert_string_equal(a.playback_url, "http://e:6878/ace/r/ih/tok");
	assert_string_equal(a.stat_url, "http://e:6878/ace/stat/ih/tok");
	assert_string_equal(a.command_url, "http://e:6878/ace/cmd/ih/tok");
	assert_string_equal(a.infohash, "ih");
	assert_string_equal(a.playback_session_id, "ps");
	assert_true(a.is_live);
	assert_false(a.is_encrypted);
	/* the minimum: playback_url only; "" error is no error */
	const char *min = "{\"response\": {\"playback_url\": \"HTTPS://[::1]/x.m3u8\", "
	                  "\"is_live\": true, \"stat_url\": null}, \"error\": \"\"}";
	assert_int_equal(engine_answer_parse(min, strlen(min), &a, why, sizeof(why)), 0);
	assert_string_equal(a.playback_url, "HTTPS://[::1]/x.m3u8");
	assert_string_equal(a.stat_url, "");
	assert_true(a.is_live);
}

static void test_answer_errors(void **state)
{
	(void)state;
	answer_bad("{\"response\": null, \"error\": \"failed to load content\"}",
	           "failed to load content");
	answer_bad("{\"response\": null, \"error\": {\"message\": \"boom\", \"code\": 7}}",
	           "boom (code 7)");
	answer_bad("{\"response\": null, \"error\": {\"message\": \"two\\nlines\"}}", "two lines");
	answer_bad("{\"response\": null, \"error\": {\"code\": \"E1\"}}", "error code E1");
	answer_bad("{\"response\": null, \"error\": {\"code\": 5}}", "error code 5");
	answer_bad("{\"response\": null, \"error\": {}}", "engine reported an error");
	answer_bad("{\"response\": null, \"error\": 3}", "engine reported an error");
	/* an error wins over a response */
	answer_bad("{\"response\": {\"playback_url\": \"http://x/\"}, \"error\": \"no\"}", "no");
	answer_bad("{\"response\": null, \"error\": null}", "no response");
	answer_bad("{}", "no response");
	answer_bad("{\"response\": \"ok\"}", "no response");
	answer_bad("not json", "engine answered with invalid JSON");
	answer_bad("", "engine answered with invalid JSON");
	answer_bad("{\"response\": {}} trailing", "invalid JSON");
	answer_bad("{\"a\": 1, \"a\": 2}", "invalid JSON");
	answer_bad("[1,2]", "not a JSON object");
	answer_bad("{\"response\": {\"stat_url\": \"http://x\"}}", "playback_url");
	answer_bad("{\"response\": {\"playback_url\": \"/ace/r/x\"}}", "playback_url");
	answer_bad("{\"response\": {\"playback_url\": \"http://\"}}", "playback_url");
	answer_bad("{\"response\": {\"playback_url\": \"ftp://x/\"}}", "playback_url");
	answer_bad("{\"response\": {\"playback_url\": \"http://u@x/\"}}", "playback_url");
	answer_bad("{\"response\": {\"playback_url\": \"http://x/a b\"}}", "playback_url");
	answer_bad("{\"response\": {\"playback_url\": \"http://x/a\\u0000\"}}", "invalid JSON");
	answer_bad("{\"response\": {\"playback_url\": 5}}", "playback_url");
	answer_bad("{\"response\": {\"playback_url\": \"http://x\", \"command_url\": \"/c\"}}",
	           "relative");
	answer_bad("{\"response\": {\"playback_url\": \"http://x\", \"infohash\": 5}}",
	           "malformed infohash");
	char big[2000];
	snprintf(big, sizeof(big), "{\"response\": {\"playback_url\": \"http://x/%01100d\"}}", 0);
	answer_bad(big, "too long");
	snprintf(big, sizeof(big),
	         "{\"response\": {\"playback_url\": \"http://x/\", \"playback_session_id\": "
	         "\"%0200d\"}}",
	         0);
	answer_bad(big, "playback_session_id (too long)");
	/* size and depth bounds */
	char *huge = malloc(ENGINE_ANSWER_MAX + 2);
	memset(huge, ' ', ENGINE_ANSWER_MAX + 1);
	huge[0] = '{';
	huge[ENGINE_ANSWER_MAX] = '}';
	huge[ENGINE_ANSWER_MAX + 1] = '\0';
	answer_bad(huge, "too large");
	for (size_t i = 0; i < ENGINE_ANSWER_MAX; i++)
		huge[i] = i < ENGINE_ANSWER_MAX / 2 ? '[' : ']';
	huge[ENGINE_ANSWER_MAX] = '\0';
	answer_bad(huge, "invalid JSON"); /* deeper than jansson's 2048 */
	free(huge);
}

static void test_stat(void **state)
{
	(void)state;
	struct engine_stat st;
	const char *s1 = "{\"response\": {}}";
	assert_int_equal(engine_stat_parse(s1, strlen(s1), &st), 0);
	assert_true(st.known && st.empty);
	const char *s2 = "{\"response\": {\"status\": \"dl\", \"peers\": 9, \"speedDown\": 300, "
	                 "\"speed_up\": 5, \"downloaded\": 100, \"uploaded\": 7.9, "
	                 "\"total_progress\": 12.5, \"livepos\": {\"pos\": 1}}}";
	assert_int_equal(engine_stat_parse(s2, strlen(s2), &st), 0);
	assert_true(st.known);
	assert_false(st.empty);
	assert_string_equal(st.status, "dl");
	assert_int_equal(st.peers, 9);
	assert_int_equal(st.speed_down, 300);
	assert_int_equal(st.speed_up, 5);
	assert_int_equal(st.downloaded, 100);
	assert_int_equal(st.uploaded, 7);
	assert_true(st.total_progress == 12.5);
	const char *s3 = "{\"response\": null, \"error\": \"unknown playback session id\"}";
	assert_int_equal(engine_stat_parse(s3, strlen(s3), &st), 0);
	assert_false(st.known);
	const char *s4 = "{\"response\": {\"speed_down\": 1e300, \"peers\": \"x\", \"status\": "
	                 "\"a-very-long-status-that-does-not-fit-in-the-field\"}}";
	assert_int_equal(engine_stat_parse(s4, strlen(s4), &st), 0);
	assert_int_equal(st.speed_down, 0); /* out of range: 0, not undefined */
	assert_int_equal(st.peers, 0);
	assert_int_equal(strlen(st.status), sizeof(st.status) - 1);
	assert_int_equal(engine_stat_parse("x", 1, &st), -EINVAL);
	assert_int_equal(engine_stat_parse("[]", 2, &st), -EINVAL);
	assert_int_equal(engine_stat_parse("{\"response\": 1}", 15, &st), -EINVAL);
}

static void test_url_split(void **state)
{
	(void)state;
	struct engine_url u;
	assert_int_equal(engine_url_split("http://127.0.0.1:6878/ace/r/ih/tok?x=1#f", &u), 0);
	assert_false(u.https);
	assert_string_equal(u.host, "127.0.0.1");
	assert_int_equal(u.port, 6878);
	assert_string_equal(u.path, "/ace/r/ih/tok?x=1");
	assert_int_equal(engine_url_split("https://engine", &u), 0);
	assert_true(u.https);
	assert_string_equal(u.host, "engine");
	assert_int_equal(u.port, 443);
	assert_string_equal(u.path, "/");
	assert_int_equal(engine_url_split("HTTP://e?q=1", &u), 0);
	assert_int_equal(u.port, 80);
	assert_string_equal(u.path, "/?q=1");
	assert_int_equal(engine_url_split("http://[fd00::1]:80/a", &u), 0);
	assert_string_equal(u.host, "[fd00::1]");
	assert_int_equal(u.port, 80);
	assert_int_equal(engine_url_split("http://[fd00::1]/a", &u), 0);
	assert_int_equal(u.port, 80);
	assert_int_equal(engine_url_split("http://e:65535/", &u), 0);
	assert_int_equal(u.port, 65535);
	const char *bad[] = {
	        "",
	        "e:80/x",
	        "ftp://e/",
	        "http://",
	        "http:///x",
	        "http://:80/",
	        "http://e:/x",
	        "http://e:0/",
	        "http://e:65536/",
	        "http://e:8a/",
	        "http://u@e/",
	        "http://[fd00::1",
	        "http://[]/",
	        "http://[::1]x/",
	        "http://e/a b",
	        "http://e/\x01",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&u, 0x5a, sizeof(u));
		if (engine_url_split(bad[i], &u) != -EINVAL)
			fail_msg("'%s' accepted", bad[i]);
		assert_int_equal((unsigned char)u.host[0], 0x5a);
	}
	char longu[1200];
	snprintf(longu, sizeof(longu), "http://e/%01100d", 0);
	assert_int_equal(engine_url_split(longu, &u), -E2BIG);
	snprintf(longu, sizeof(longu), "http://%0300d/", 0);
	assert_int_equal(engine_url_split(longu, &u), -E2BIG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_answer_ok),
	        cmocka_unit_test(test_answer_errors),
	        cmocka_unit_test(test_stat),
	        cmocka_unit_test(test_url_split),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
