/* Unit tests of the per-stream ring (dataplane/ring.h). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dataplane/ring.h"

static uint8_t byte_at(uint64_t pos)
{
	return (uint8_t)(pos * 7 + (pos >> 9));
}

/* Writes len bytes of the reference pattern; returns what was accepted. */
static long write_pattern(struct ring *r, size_t len)
{
	uint8_t buf[4096];
	assert_true(len <= sizeof(buf));
	uint64_t w = ring_write_pos(r);
	for (size_t i = 0; i < len; i++)
		buf[i] = byte_at(w + i);
	return ring_write(r, buf, len);
}

/* Reads up to max bytes, checks them against the pattern, consumes them. */
static size_t read_check(struct ring_reader *rd, size_t max)
{
	struct iovec iov[16];
	uint64_t pos = ring_reader_pos(rd);
	int n = ring_reader_iov(rd, iov, 16, max);
	size_t total = 0;
	for (int i = 0; i < n; i++) {
		for (size_t j = 0; j < iov[i].iov_len; j++)
			assert_int_equal(((uint8_t *)iov[i].iov_base)[j], byte_at(pos + total + j));
		total += iov[i].iov_len;
	}
	ring_reader_consume(rd, total);
	return total;
}

static void test_ring_backpressure_basic(void **state)
{
	(void)state;
	struct ring *r;
	struct ring_reader *rd;
	assert_int_equal(ring_new(1000, 64, &r), 0);
	assert_int_equal(ring_memory(r), 0); /* idle: nothing allocated */
	assert_int_equal(ring_reader_attach(r, 0, &rd), 0);
	assert_int_equal(ring_write_space(r), 1000);
	assert_int_equal(write_pattern(r, 1200), 1000); /* capped by the reader */
	assert_int_equal(ring_write_space(r), 0);
	assert_int_equal(write_pattern(r, 1), 0);
	void *p;
	size_t room;
	assert_int_equal(ring_write_reserve(r, &p, &room), -EAGAIN);
	assert_int_equal(ring_reader_lag(rd), 1000);
	assert_int_equal(ring_chunks(r), 16); /* ceil(1000 / 64) */
	struct iovec iov[32];
	assert_int_equal(ring_reader_iov(rd, iov, 2, 100000), 2); /* limited by max */
	int n = ring_reader_iov(rd, iov, 32, 10);
	assert_int_equal(n, 1);
	assert_int_equal(iov[0].iov_len, 10);
	assert_int_equal(ring_reader_iov(rd, iov, 32, 0), 0);
	assert_int_equal(read_check(rd, 100000), 1000);
	assert_int_equal(ring_reader_lag(rd), 0);
	/* only the partly written chunk is held, plus the cached spare */
	assert_int_equal(ring_chunks(r), 1);
	assert_int_equal(ring_memory(r), 2 * 64);
	ring_reader_detach(rd);
	ring_free(r);
}

static void test_ring_wraparound(void **state)
{
	(void)state;
	struct ring *r;
	struct ring_reader *rd;
	assert_int_equal(ring_new(1000, 64, &r), 0);
	assert_int_equal(ring_reader_attach(r, 0, &rd), 0);
	uint64_t written = 0, read = 0;
	for (int round = 0; round < 2000; round++) {
		size_t len = (size_t)(round * 37 % 300) + 1;
		long got = write_pattern(r, len);
		assert_true(got >= 0);
		written += (uint64_t)got;
		read += read_check(rd, (size_t)(round * 53 % 400));
		assert_true(ring_reader_lag(rd) <= 1000);
		assert_true(ring_chunks(r) * 64 < 1000 + 2 * 64);
		assert_true(ring_memory(r) <= (ring_chunks(r) + 1) * 64);
	}
	for (size_t got; (got = read_check(rd, SIZE_MAX)) > 0;)
		read += got;
	assert_int_equal(read, written);
	assert_int_equal(ring_write_pos(r), written);
	ring_free(r); /* frees the attached reader too */
}

static void test_ring_exact_capacity(void **state)
{
	(void)state;
	/* capacity a multiple of the chunk, and not */
	const size_t caps[] = {256, 255, 257, 1, 64, 63, 65};
	for (size_t c = 0; c < sizeof(caps) / sizeof(caps[0]); c++) {
		size_t cap = caps[c];
		struct ring *r;
		struct ring_reader *rd;
		assert_int_equal(ring_new(cap, 64, &r), 0);
		assert_int_equal(ring_reader_attach(r, 0, &rd), 0);
		for (int round = 0; round < 50; round++) {
			assert_int_equal(write_pattern(r, cap), (long)cap);
			assert_int_equal(ring_write_space(r), 0);
			assert_int_equal(write_pattern(r, 1), 0);
			assert_true(ring_chunks(r) * 64 < cap + 2 * 64);
			assert_int_equal(read_check(rd, cap - 1), cap - 1);
			assert_int_equal(ring_write_space(r), cap - 1);
			assert_int_equal(write_pattern(r, cap), (long)(cap - 1));
			assert_int_equal(read_check(rd, SIZE_MAX), cap);
			assert_int_equal(ring_write_space(r), cap);
		}
		ring_free(r);
	}
}

static void test_ring_zero_length(void **state)
{
	(void)state;
	struct ring *r;
	struct ring_reader *rd;
	assert_int_equal(ring_new(0, 64, &r), -EINVAL);
	assert_int_equal(ring_new(100, 0, &r), -EINVAL);
	assert_int_equal(ring_new(100, 64, &r), 0);
	assert_int_equal(ring_write(r, "", 0), 0);
	assert_int_equal(ring_write(r, NULL, 0), 0);
	assert_int_equal(ring_memory(r), 0);
	assert_int_equal(ring_reader_attach(r, 12345, &rd), 0); /* clamped */
	assert_int_equal(ring_reader_pos(rd), 0);
	struct iovec iov[2];
	assert_int_equal(ring_reader_iov(rd, iov, 2, 1000), 0);
	assert_int_equal(ring_reader_iov(rd, iov, 0, 1000), 0);
	ring_reader_consume(rd, 0);
	ring_reader_consume(rd, 50); /* clamped to the lag */
	assert_int_equal(ring_reader_pos(rd), 0);
	void *p;
	size_t room;
	assert_int_equal(ring_write_reserve(r, &p, &room), 0);
	assert_int_equal(room, 64);
	ring_write_commit(r, 0);
	assert_int_equal(ring_write_pos(r), 0);
	ring_write_commit(r, 10); /* no reservation: nothing */
	assert_int_equal(ring_write_pos(r), 0);
	ring_reader_detach(rd);
	ring_reader_detach(NULL);
	ring_free(r);
	ring_free(NULL);
}

static void test_ring_zero_copy(void **state)
{
	(void)state;
	struct ring *r;
	struct ring_reader *rd;
	assert_int_equal(ring_new(100, 64, &r), 0);
	assert_int_equal(ring_reader_attach(r, 0, &rd), 0);
	void *p;
	size_t room;
	assert_int_equal(ring_write_reserve(r, &p, &room), 0);
	assert_int_equal(room, 64); /* never past the chunk */
	for (size_t i = 0; i < 30; i++)
		((uint8_t *)p)[i] = byte_at(i);
	ring_write_commit(r, 30);
	assert_int_equal(ring_write_reserve(r, &p, &room), 0);
	assert_int_equal(room, 34);
	for (size_t i = 0; i < room; i++)
		((uint8_t *)p)[i] = byte_at(30 + i);
	ring_write_commit(r, 1000); /* clamped to the reservation */
	assert_int_equal(ring_write_pos(r), 64);
	assert_int_equal(ring_write_reserve(r, &p, &room), 0);
	assert_int_equal(room, 36); /* never past the space */
	ring_write_commit(r, 0);
	assert_int_equal(read_check(rd, SIZE_MAX), 64);
	ring_free(r);
}

static void test_ring_two_readers(void **state)
{
	(void)state;
	struct ring *r;
	struct ring_reader *a, *b;
	assert_int_equal(ring_new(256, 64, &r), 0);
	assert_int_equal(ring_reader_attach(r, 0, &a), 0);
	assert_int_equal(write_pattern(r, 200), 200);
	assert_int_equal(ring_reader_attach(r, 150, &b), 0); /* joins behind the edge */
	assert_int_equal(ring_reader_pos(b), 150);
	assert_int_equal(ring_reader_count(r), 2);
	assert_int_equal(read_check(a, SIZE_MAX), 200);
	assert_int_equal(ring_write_space(r), 256 - 50); /* b is the slowest */
	ring_reader_consume(b, 1000);                    /* clamped */
	assert_int_equal(ring_reader_lag(b), 0);
	assert_int_equal(ring_write_space(r), 256);
	ring_reader_detach(a);
	assert_int_equal(ring_reader_count(r), 1);
	ring_free(r); /* frees b too */
}

static void test_ring_many_readers(void **state)
{
	(void)state;
	enum { N = 300 };
	struct ring *r;
	struct ring_reader *rd[N];
	assert_int_equal(ring_new(4096, 256, &r), 0);
	assert_int_equal(ring_set_mode(r, RING_DROP_SLOW, 1024), 0);
	for (int i = 0; i < N; i++) {
		uint64_t pos;
		assert_int_equal(ring_join_pos(r, 1024, 188, &pos), 0);
		assert_int_equal(ring_reader_attach(r, pos, &rd[i]), 0);
		ring_reader_set_owner(rd[i], &rd[i]);
		assert_int_equal(write_pattern(r, 13), 13);
	}
	/* every reader reads at its own pace, faster than the writer */
	for (int round = 0; round < 200; round++) {
		for (int i = 0; i < N; i++)
			read_check(rd[i], (size_t)(i % 7 + 1) * 100 + 500);
		assert_int_equal(write_pattern(r, 500), 500);
		for (int i = 0; i < N; i++)
			assert_false(ring_reader_overrun(rd[i]));
	}
	assert_null(ring_first_overrun(r));
	assert_true(ring_chunks(r) * 256 < 4096 + 2 * 256);
	for (int i = 0; i < N; i++)
		ring_reader_detach(rd[i]);
	/* no reader: only the retention window stays */
	assert_true(ring_chunks(r) <= 1024 / 256 + 1);
	ring_free(r);
}

static void test_ring_overrun(void **state)
{
	(void)state;
	struct ring *r;
	struct ring_reader *fast, *slow;
	assert_int_equal(ring_new(1000, 100, &r), 0);
	assert_int_equal(ring_set_mode(r, RING_DROP_SLOW, 1001), -EINVAL);
	assert_int_equal(ring_set_mode(r, RING_DROP_SLOW, 0), 0);
	assert_int_equal(ring_reader_attach(r, 0, &fast), 0);
	assert_int_equal(ring_reader_attach(r, 0, &slow), 0);
	ring_reader_set_owner(slow, &slow);
	assert_int_equal(ring_write_space(r), 1000); /* the writer never waits */
	assert_int_equal(write_pattern(r, 1000), 1000);
	assert_int_equal(read_check(fast, SIZE_MAX), 1000);
	assert_false(ring_reader_overrun(slow)); /* exactly a capacity behind */
	assert_int_equal(ring_reader_lag(slow), 1000);
	assert_int_equal(write_pattern(r, 1), 1);
	assert_true(ring_reader_overrun(slow)); /* one byte more: overrun */
	assert_int_equal(read_check(fast, SIZE_MAX), 1);
	struct iovec iov[4];
	assert_int_equal(ring_reader_iov(slow, iov, 4, 1000), 0);
	ring_reader_consume(slow, 10);
	assert_int_equal(ring_reader_pos(slow), 0);
	assert_ptr_equal(ring_first_overrun(r), slow);
	assert_ptr_equal(ring_reader_owner(ring_first_overrun(r)), &slow);
	/* the overrun reader pins no memory */
	assert_true(ring_chunks(r) <= 2);
	for (int i = 0; i < 50; i++) {
		assert_int_equal(write_pattern(r, 777), 777);
		assert_int_equal(read_check(fast, SIZE_MAX), 777);
	}
	ring_reader_detach(slow);
	assert_null(ring_first_overrun(r));
	assert_false(ring_reader_overrun(fast));
	ring_free(r);
}

static void test_ring_memory_returned(void **state)
{
	(void)state;
	struct ring *r;
	struct ring_reader *rd;
	assert_int_equal(ring_new(4404019, 65536, &r), 0); /* 4.2 MiB */
	assert_int_equal(ring_reader_attach(r, 0, &rd), 0);
	for (int i = 0; i < 1100; i++)
		assert_int_equal(write_pattern(r, 4000), 4000);
	assert_int_equal(ring_write_space(r), 4404019 - 4400000);
	assert_int_equal(ring_chunks(r), 68); /* ceil(4400000 / 65536) */
	assert_int_equal(ring_memory(r), 68 * 65536);
	/* chunks go back as the reader passes them */
	size_t total = 0;
	while (total < 65536 * 10)
		total += read_check(rd, 65536 * 10 - total);
	assert_int_equal(ring_chunks(r), 58);
	assert_int_equal(ring_memory(r), 59 * 65536); /* one cached */
	while (read_check(rd, SIZE_MAX) > 0)
		;
	assert_int_equal(ring_chunks(r), 1);
	ring_reader_detach(rd);
	/* retention window for late joiners */
	assert_int_equal(ring_set_mode(r, RING_DROP_SLOW, 200000), 0);
	for (int i = 0; i < 200; i++)
		assert_int_equal(write_pattern(r, 4000), 4000);
	assert_true(ring_write_pos(r) - ring_start_pos(r) >= 200000);
	assert_true(ring_chunks(r) <= 200000 / 65536 + 2);
	uint64_t pos;
	assert_int_equal(ring_join_pos(r, 100000, 188, &pos), 0);
	assert_int_equal(pos % 188, 0);
	assert_true(ring_write_pos(r) - pos >= 100000);
	assert_true(ring_write_pos(r) - pos < 100000 + 188);
	assert_int_equal(ring_reader_attach(r, pos, &rd), 0);
	assert_int_equal(read_check(rd, SIZE_MAX), ring_write_pos(r) - pos);
	/* asking further back than held starts at the oldest packet held */
	assert_int_equal(ring_join_pos(r, 1u << 30, 188, &pos), 0);
	assert_true(pos >= ring_start_pos(r) && pos < ring_start_pos(r) + 188);
	ring_free(r);
}

static void test_ring_join_edge(void **state)
{
	(void)state;
	struct ring *r;
	uint64_t pos = 77;
	assert_int_equal(ring_new(1000, 64, &r), 0);
	assert_int_equal(ring_join_pos(r, 500, 188, &pos), 0);
	assert_int_equal(pos, 0);
	assert_int_equal(write_pattern(r, 100), 100);
	assert_int_equal(ring_join_pos(r, 0, 1, &pos), 0);
	assert_int_equal(pos, 100);
	/* no reader, no retention: all but the current chunk is gone, and it
	 * holds no packet boundary */
	assert_int_equal(ring_start_pos(r), 64);
	assert_int_equal(ring_join_pos(r, 0, 188, &pos), -EAGAIN);
	for (int i = 0; i < 10; i++)
		assert_int_equal(write_pattern(r, 20), 20); /* 300: chunk 4 from 256 */
	assert_int_equal(ring_start_pos(r), 256);
	pos = 77;
	assert_int_equal(ring_join_pos(r, 0, 188, &pos), -EAGAIN);
	assert_int_equal(pos, 77);
	/* with a retention window: [500, 600) is kept, chunk-aligned from 448 */
	assert_int_equal(ring_set_mode(r, RING_BACKPRESSURE, 100), 0);
	assert_int_equal(write_pattern(r, 300), 300);
	assert_int_equal(ring_start_pos(r), 448);
	assert_int_equal(ring_join_pos(r, 1000, 188, &pos), 0);
	assert_int_equal(pos, 564);
	assert_int_equal(ring_join_pos(r, 50, 188, &pos), 0);
	assert_int_equal(pos, 564);
	ring_free(r);
}

/* The index of random access points: the latest one within reach, never
 * one trimmed away or too far behind. */
static void test_ring_raps(void **state)
{
	(void)state;
	struct ring *r;
	assert_int_equal(ring_new(1000, 64, &r), 0);
	assert_int_equal(ring_set_mode(r, RING_DROP_SLOW, 500), 0);
	uint64_t pos = 7;
	assert_int_equal(ring_join_rap(r, 1000, &pos), -ENOENT);
	assert_int_equal(write_pattern(r, 400), 400);
	ring_mark_rap(r, 188);
	ring_mark_rap(r, 100);  /* older than the last: ignored */
	ring_mark_rap(r, 5000); /* not written yet: ignored */
	assert_int_equal(ring_join_rap(r, 1000, &pos), 0);
	assert_int_equal(pos, 188);
	assert_int_equal(ring_join_rap(r, 100, &pos), -ENOENT); /* 212 behind */
	assert_int_equal(pos, 188);
	ring_mark_rap(r, 376);
	assert_int_equal(ring_join_rap(r, 100, &pos), 0);
	assert_int_equal(pos, 376);
	/* the data goes: so does the point */
	for (int i = 0; i < 10; i++)
		assert_int_equal(write_pattern(r, 200), 200);
	assert_true(ring_start_pos(r) > 376);
	assert_int_equal(ring_join_rap(r, 100000, &pos), -ENOENT);
	ring_free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_ring_raps),
	        cmocka_unit_test(test_ring_backpressure_basic),
	        cmocka_unit_test(test_ring_wraparound),
	        cmocka_unit_test(test_ring_exact_capacity),
	        cmocka_unit_test(test_ring_zero_length),
	        cmocka_unit_test(test_ring_zero_copy),
	        cmocka_unit_test(test_ring_two_readers),
	        cmocka_unit_test(test_ring_many_readers),
	        cmocka_unit_test(test_ring_overrun),
	        cmocka_unit_test(test_ring_memory_returned),
	        cmocka_unit_test(test_ring_join_edge),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
