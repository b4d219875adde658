#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "controlplane/orch_pure.h"

static struct orch_engine eng(int health, unsigned streams, bool fwd, double used)
{
	struct orch_engine e;
	memset(&e, 0, sizeof(e));
	e.health = health;
	e.orch_streams = streams;
	e.forwarded = fwd;
	e.last_usage = used;
	return e;
}

static void test_selection_rule(void **state)
{
	(void)state;
	/* healthy before unknown before unhealthy */
	struct orch_engine a[] = {eng(2, 0, false, 0), eng(1, 0, false, 0), eng(0, 0, false, 0)};
	assert_int_equal(orch_select(a, 3, 1), 2);
	/* fewest streams first (own leases count) */
	struct orch_engine b[] = {eng(0, 1, false, 0), eng(0, 0, false, 0), eng(0, 0, false, 0)};
	b[1].own_leases = 1;
	assert_int_equal(orch_select(b, 3, 3), 2);
	/* forwarded first, then least recently used */
	struct orch_engine c[] = {eng(0, 0, false, 10), eng(0, 0, true, 50), eng(0, 0, true, 20)};
	assert_int_equal(orch_select(c, 3, 1), 2);
	/* full engines are skipped; none left: -1 */
	struct orch_engine d[] = {eng(0, 1, false, 0), eng(0, 0, false, 0)};
	d[1].own_leases = 1;
	assert_int_equal(orch_select(d, 2, 1), -1);
	assert_int_equal(orch_select(d, 0, 1), -1);
}

/* A suspect engine (a stream failed on it a moment ago) ranks last, but it
 * is still chosen when it is the only one with a free slot; only the
 * failover's own assign (avoid) leaves the failed engine out. */
static void test_suspect_ranks_last(void **state)
{
	(void)state;
	struct orch_engine a[] = {eng(0, 0, true, 0), eng(2, 3, false, 99)};
	a[0].suspect = true;
	assert_int_equal(orch_select(a, 2, 4), 1); /* a worse engine, but not suspect */
	a[1].orch_streams = 4;                     /* full: the suspect serves */
	assert_int_equal(orch_select(a, 2, 4), 0);
	a[0].avoid = true; /* the failover moving away from it: none */
	assert_int_equal(orch_select(a, 2, 4), -1);
	struct orch_engine b[] = {eng(0, 0, false, 0), eng(0, 0, false, 0)};
	b[0].avoid = true;
	b[0].suspect = b[1].suspect = true;
	assert_int_equal(orch_select(b, 2, 1), 1);
}

static void test_parse_time(void **state)
{
	(void)state;
	double z = orch_parse_time("2025-01-02T03:04:05Z");
	assert_true(z > 1.7e9);
	assert_true(orch_parse_time("2025-01-02T03:04:05+00:00") == z);
	double f = orch_parse_time("2025-01-02T03:04:05.123456Z");
	assert_true(f > z && f < z + 0.2);
	assert_true(orch_parse_time("2025-01-02T05:04:05+02:00") == z);
	assert_true(orch_parse_time("garbage") == 0);
	assert_true(orch_parse_time(NULL) == 0);
}

/* Offsets in every ISO-8601 spelling: +hh:mm, +hhmm (was read as +hh:00),
 * +hh, negative ones, and what is not an offset. */
static void test_parse_time_offsets(void **state)
{
	(void)state;
	double z = orch_parse_time("2025-01-02T03:04:05Z");
	assert_true(z > 1.7e9);
	assert_true(orch_parse_time("2025-01-02T03:04:05") == z); /* no zone: UTC */
	assert_true(orch_parse_time("2025-01-02T08:34:05+05:30") == z);
	assert_true(orch_parse_time("2025-01-02T08:34:05+0530") == z);
	assert_true(orch_parse_time("2025-01-02T08:04:05+05") == z);
	assert_true(orch_parse_time("2025-01-01T23:04:05-0400") == z);
	assert_true(orch_parse_time("2025-01-01T23:04:05-04:00") == z);
	assert_true(orch_parse_time("2025-01-02T03:49:05.5+00:45") == z + 0.5);
	assert_true(orch_parse_time("2025-01-02T03:04:05+5") == 0);
	assert_true(orch_parse_time("2025-01-02T03:04:05+053") == 0);
	assert_true(orch_parse_time("2025-01-02T03:04:05+05:") == 0);
	assert_true(orch_parse_time("2025-01-02T03:04:05+05:30x") == 0);
	assert_true(orch_parse_time("2025-01-02T03:04:05+2500") == 0);
	assert_true(orch_parse_time("2025-01-02T03:04:05+0560") == 0);
	assert_true(orch_parse_time("2025-01-02T03:04:05Zjunk") == 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_selection_rule),
	        cmocka_unit_test(test_suspect_ranks_last),
	        cmocka_unit_test(test_parse_time),
	        cmocka_unit_test(test_parse_time_offsets),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
