#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

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
	        cmocka_unit_test(test_text),
	        cmocka_unit_test(test_json),
	        cmocka_unit_test(test_truncation),
	        cmocka_unit_test(test_levels),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
