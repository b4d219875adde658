/* acexyctl's text output: aligned keys whatever their length, null as "-",
 * nested objects as indented blocks (not "null" or skipped), lists of
 * records as tables. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "controlplane/ctl_text.h"

static char *render(const char *cmd, const char *json)
{
	json_t *res = json_loads(json, 0, NULL);
	assert_non_null(res);
	char *out = NULL;
	size_t n = 0;
	FILE *f = open_memstream(&out, &n);
	ctl_print_text(f, cmd, res);
	fclose(f);
	json_decref(res);
	return out;
}

/* the column where the value of `key` starts */
static long value_col(const char *out, const char *key)
{
	char pat[80];
	snprintf(pat, sizeof(pat), "\n%s ", key);
	const char *p = strstr(out, pat);
	if (!p && strncmp(out, pat + 1, strlen(pat + 1)) == 0)
		p = out - 1;
	assert_non_null(p);
	p++;
	const char *v = p + strlen(key);
	while (*v == ' ')
		v++;
	return v - p;
}

static void test_dataplane_status(void **state)
{
	(void)state;
	char *out =
	        render("status", "{\"program\":\"acexy-dataplane\",\"controlplane_connected\":true,"
	                         "\"workers\":2,\"uptime_s\":1.5,\"streams\":[{\"lease\":7,"
	                         "\"content\":\"c\",\"bytes\":10}]}");
	/* one column for every value, even after the longest key */
	assert_int_equal(value_col(out, "program"), value_col(out, "controlplane_connected"));
	assert_int_equal(value_col(out, "workers"), value_col(out, "uptime_s"));
	assert_non_null(strstr(out, "controlplane_connected  true\n"));
	assert_non_null(strstr(out, "\nstreams:\n  LEASE  CONTENT  BYTES\n  7      c        10\n"));
	free(out);
}

static void test_nested_objects(void **state)
{
	(void)state;
	char *out = render("status", "{\"mode\":\"orchestrator\",\"leases\":0,\"orchestrator\":{"
	                             "\"state\":\"healthy\",\"blocked_eta_s\":0,\"url\":null},"
	                             "\"events\":null,\"dataplanes\":[{\"instance\":\"dp1\","
	                             "\"streams\":1,\"draining\":false}],\"tags\":[\"a\",\"b\"],"
	                             "\"none\":[]}");
	assert_null(strstr(out, "null"));
	assert_non_null(strstr(out, "\norchestrator:\n  state          healthy\n"
	                            "  blocked_eta_s  0\n  url            -\n"));
	assert_non_null(strstr(out, "events  -\n"));
	assert_non_null(strstr(out, "tags    a, b\n"));
	assert_non_null(strstr(out, "none    -\n"));
	assert_non_null(strstr(out, "\ndataplanes:\n  INSTANCE  STREAMS  DRAINING\n"
	                            "  dp1       1        false\n"));
	free(out);
}

static void test_fixed_tables(void **state)
{
	(void)state;
	char *out = render("config", "{\"settings\":[{\"env\":\"ACEXY_X\",\"value\":\"1\","
	                             "\"origin\":\"default\",\"where\":\"\"}]}");
	assert_string_equal(out, "SETTING  VALUE  ORIGIN   WHERE\nACEXY_X  1      default  -\n");
	free(out);
	out = render("streams", "{\"streams\":[{\"id\":3,\"content\":\"x\",\"peers\":null}]}");
	assert_non_null(strstr(out, "ID  CONTENT"));
	assert_null(strstr(out, "null"));
	free(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_dataplane_status),
	        cmocka_unit_test(test_nested_objects),
	        cmocka_unit_test(test_fixed_tables),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
