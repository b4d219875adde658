#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "tscheck.h"

static void packet(uint8_t *p, unsigned pid, unsigned cc, unsigned afc)
{
	memset(p, 0xff, 188);
	p[0] = 0x47;
	p[1] = (uint8_t)(pid >> 8);
	p[2] = (uint8_t)pid;
	p[3] = (uint8_t)((afc << 4) | (cc & 15));
	if (afc & 2) {
		p[4] = 1;
		p[5] = 0;
	}
}

static void test_valid_and_split(void **state)
{
	(void)state;
	uint8_t buf[188 * 40];
	for (int i = 0; i < 40; i++)
		packet(buf + 188 * i, i % 2 ? 0x100 : 0x101, (unsigned)(i / 2), 1);
	struct tscheck t;
	tscheck_init(&t);
	/* fed in odd pieces */
	for (size_t off = 0; off < sizeof(buf); off += 77)
		tscheck_feed(&t, buf + off, sizeof(buf) - off < 77 ? sizeof(buf) - off : 77);
	assert_int_equal(t.packets, 40);
	assert_int_equal(t.pids, 2);
	assert_true(tscheck_ok(&t));
}

static void test_errors(void **state)
{
	(void)state;
	uint8_t buf[188 * 4];
	packet(buf, 0x100, 0, 1);
	packet(buf + 188, 0x100, 1, 1);
	packet(buf + 376, 0x100, 3, 1); /* skipped 2 */
	packet(buf + 564, 0x100, 3, 2); /* adaptation only: cc must stay */
	struct tscheck t;
	tscheck_init(&t);
	tscheck_feed(&t, buf, sizeof(buf));
	assert_int_equal(t.cc_errors, 1);
	tscheck_init(&t);
	uint8_t junk[10] = {1, 2, 3};
	tscheck_feed(&t, junk, sizeof(junk));
	tscheck_feed(&t, buf, 188);
	assert_int_equal(t.sync_errors, 1);
	assert_false(tscheck_ok(&t));
	/* one duplicate is allowed, two are not */
	tscheck_init(&t);
	packet(buf, 0x100, 5, 1);
	tscheck_feed(&t, buf, 188);
	tscheck_feed(&t, buf, 188);
	assert_int_equal(t.cc_errors, 0);
	tscheck_feed(&t, buf, 188);
	assert_int_equal(t.cc_errors, 1);
}

/* A jump that carries the discontinuity_indicator is a splice, not an error. */
static void test_flagged_jump(void **state)
{
	(void)state;
	uint8_t buf[188 * 3];
	packet(buf, 0x100, 0, 1);
	packet(buf + 188, 0x100, 9, 3);
	buf[188 + 4] = 1;
	buf[188 + 5] = 0x80;
	packet(buf + 376, 0x100, 10, 1);
	struct tscheck t;
	tscheck_init(&t);
	tscheck_feed(&t, buf, sizeof(buf));
	assert_int_equal(t.cc_errors, 0);
	assert_int_equal(t.discontinuities, 1);
	buf[188 + 5] = 0;
	tscheck_init(&t);
	tscheck_feed(&t, buf, sizeof(buf));
	assert_int_equal(t.cc_errors, 1);
	assert_int_equal(t.discontinuities, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_valid_and_split),
	        cmocka_unit_test(test_errors),
	        cmocka_unit_test(test_flagged_jump),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
