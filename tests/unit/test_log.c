#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "acexy/log.h"

static void test_text(void **state)
{
	(void)state;
	char buf[512];
	size_t n = alog_format_line(buf, sizeof(buf), ALOG_TEXT, "acexy-dataplane", ALOG_WARN,
	                            "stream_ended",
	                            (const struct alog_field[]){ALOG_S("content", "abc"),
	                                                        ALOG_U("bytes", 12),
	                                                        ALOG_S("reason", "has space"),
	                                                        ALOG_I("d", -3),
	                                                        ALOG_B("ok", true),
	                                                        ALOG_S("e", ""),
	                                                        {0}});
	assert_int_equal(n, strlen(buf));
	assert_non_null(strstr(buf,
	                       "level=warn program=acexy-dataplane event=stream_ended "
	                       "content=abc bytes=12 reason=\"has space\" d=-3 ok=true e=\"\""));
	assert_int_equal(strncmp(buf, "ts=", 3), 0);
	assert_null(strchr(buf, '\n'));
}

static void test_json(void **state)
{
	(void)state;
	char buf[512];
	alog_format_line(
	        buf, sizeof(buf), ALOG_JSON, "p", ALOG_ERROR, "ev",
	        (const struct alog_field[]){ALOG_S("k", "a\"b\\c\nd\x01"), ALOG_D("r", 1.5), {0}});
	assert_non_null(strstr(buf, "\"level\":\"error\",\"program\":\"p\",\"event\":\"ev\","
	                            "\"k\":\"a\\\"b\\\\c\\nd\\u0001\",\"r\":1.5}"));
	assert_int_equal(buf[0], '{');
}

static void test_truncation(void **state)
{
	(void)state;
	char big[3000];
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	char buf[100];
	size_t n = alog_format_line(buf, sizeof(buf), ALOG_TEXT, "p", ALOG_INFO, "ev",
	                            (const struct alog_field[]){ALOG_S("k", big), {0}});
	assert_true(n < sizeof(buf));
	assert_int_equal(strlen(buf), n);
}

/* The line parses as JSON; returns the string value of key. */
static const char *json_field(const char *line, const char *key, json_t **keep)
{
	json_error_t err;
	*keep = json_loads(line, 0, &err);
	if (!*keep)
		fail_msg("not JSON (%s): %s", err.text, line);
	return json_string_value(json_object_get(*keep, key));
}

/* Bytes that are not UTF-8 (issue 22 item 9: an id of %FF%FE) still give
 * a valid JSON line: well-formed sequences stay, others read \xHH. */
static void test_json_any_bytes(void **state)
{
	(void)state;
	char buf[512];
	json_t *j;
	alog_format_line(buf, sizeof(buf), ALOG_JSON, "p", ALOG_INFO, "ev",
	                 (const struct alog_field[]){
	                         ALOG_S("id", "\xff\xfe"),
	                         ALOG_S("ok", "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"),
	                         ALOG_S("bad", "\xc0\xaf|\xed\xa0\x80|\xf4\x90\x80\x80|\xe2\x82"),
	                         {0}});
	assert_string_equal(json_field(buf, "id", &j), "\\xff\\xfe");
	json_decref(j);
	assert_string_equal(json_field(buf, "ok", &j), "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80");
	json_decref(j);
	assert_string_equal(json_field(buf, "bad", &j),
	                    "\\xc0\\xaf|\\xed\\xa0\\x80|\\xf4\\x90\\x80\\x80|\\xe2\\x82");
	json_decref(j);
	/* text lines quote them the same way */
	alog_format_line(buf, sizeof(buf), ALOG_TEXT, "p", ALOG_INFO, "ev",
	                 (const struct alog_field[]){ALOG_S("id", "\xff\xfe"), {0}});
	assert_non_null(strstr(buf, " id=\"\\\\xff\\\\xfe\""));
}

/* A line longer than its buffer is cut on a character boundary and still
 * closes: valid JSON that says it was cut. */
static void test_json_cut(void **state)
{
	(void)state;
	char big[6000];
	for (size_t i = 0; i + 3 < sizeof(big); i += 3)
		memcpy(big + i, "\xe2\x82\xac", 3);
	big[sizeof(big) - 3] = '\0';
	static char buf[4096];
	for (size_t cap = 120; cap <= sizeof(buf); cap += 37) {
		size_t n = alog_format_line(
		        buf, cap, ALOG_JSON, "p", ALOG_INFO, "ev",
		        (const struct alog_field[]){
		                ALOG_S("a", "x"), ALOG_S("k", big), ALOG_U("after", 1), {0}});
		assert_true(n < cap);
		json_t *j;
		const char *k = json_field(buf, "k", &j);
		assert_true(k == NULL || strlen(k) % 3 == 0);
		assert_true(json_is_true(json_object_get(j, "truncated")));
		json_decref(j);
	}
}

static void test_levels(void **state)
{
	(void)state;
	assert_int_equal(alog_init("t", ALOG_WARN, ALOG_TEXT), 0);
	assert_false(alog_enabled(ALOG_INFO));
	assert_true(alog_enabled(ALOG_ERROR));
	ALOG(ALOG_ERROR, "unit_test_line", ALOG_S("k", "v"));
	ALOG(ALOG_WARN, "no_fields");
	alog_flush();
	assert_int_equal(alog_dropped(), 0);
	assert_string_equal(alog_level_name(ALOG_DEBUG), "debug");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_text),       cmocka_unit_test(test_json),
	        cmocka_unit_test(test_truncation), cmocka_unit_test(test_json_any_bytes),
	        cmocka_unit_test(test_json_cut),   cmocka_unit_test(test_levels),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
