/* Drives the ring with an operation sequence decoded from the input and
 * checks after every step: each byte read is the byte written at that
 * position, the memory and lag limits hold, backpressure never overruns a
 * reader, and the retention window is kept. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dataplane/ring.h"

#define READERS 6

static uint8_t byte_at(uint64_t pos)
{
	return (uint8_t)(pos * 131 + (pos >> 8));
}

static void check_reader(const struct ring *r, const struct ring_reader *rd, size_t cap)
{
	if (ring_reader_overrun(rd)) {
		struct iovec iov[2];
		if (ring_reader_iov(rd, iov, 2, 1000) != 0)
			abort();
		return;
	}
	if (ring_reader_lag(rd) > cap)
		abort();
	if (ring_reader_pos(rd) < ring_start_pos(r) || ring_reader_pos(rd) > ring_write_pos(r))
		abort();
}

static void check_ring(struct ring *r, struct ring_reader **rd, size_t cap, size_t chunk,
                       enum ring_mode mode, size_t retain, uint64_t held_at_change,
                       uint64_t max_lag)
{
	uint64_t w = ring_write_pos(r);
	if (ring_chunks(r) * chunk >= cap + 2 * chunk)
		abort();
	if (ring_memory(r) > (ring_chunks(r) + 1) * chunk)
		abort();
	uint64_t keep_from = w > retain ? w - retain : 0;
	if (keep_from < held_at_change)
		keep_from = held_at_change;
	if (ring_start_pos(r) > keep_from || ring_start_pos(r) > w)
		abort();
	size_t n = 0;
	for (int k = 0; k < READERS; k++) {
		if (!rd[k])
			continue;
		n++;
		check_reader(r, rd[k], cap);
	}
	if (n != ring_reader_count(r))
		abort();
	size_t space = ring_write_space(r);
	if (mode == RING_DROP_SLOW && space != cap)
		abort();
	if (mode == RING_BACKPRESSURE && space != (max_lag >= cap ? 0 : cap - max_lag))
		abort();
}

static void read_some(struct ring_reader *rd, size_t max_bytes)
{
	struct iovec iov[8];
	uint64_t pos = ring_reader_pos(rd);
	int n = ring_reader_iov(rd, iov, 8, max_bytes);
	size_t total = 0;
	for (int j = 0; j < n; j++) {
		if (iov[j].iov_len == 0)
			abort();
		for (size_t b = 0; b < iov[j].iov_len; b++)
			if (((uint8_t *)iov[j].iov_base)[b] != byte_at(pos + total + b))
				abort();
		total += iov[j].iov_len;
	}
	if (total > ring_reader_lag(rd) || total > max_bytes)
		abort();
	if (n < 8 && total < max_bytes && total != ring_reader_lag(rd) && !ring_reader_overrun(rd))
		abort(); /* stopped early for no reason */
	ring_reader_consume(rd, total);
	if (ring_reader_pos(rd) != pos + total)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 3)
		return 0;
	struct ring *r;
	size_t cap = (size_t)data[0] * 16 + 1, chunk = (size_t)data[1] % 64 + 1;
	enum ring_mode mode = data[2] & 1 ? RING_DROP_SLOW : RING_BACKPRESSURE;
	size_t retain = (size_t)(data[2] >> 1) * 16;
	if (retain > cap)
		retain = cap;
	if (ring_new(cap, chunk, &r) < 0)
		abort();
	if (ring_set_mode(r, mode, retain) < 0)
		abort();
	struct ring_reader *rd[READERS] = {0};
	bool was_drop = mode == RING_DROP_SLOW;
	uint64_t held_at_change = 0;
	uint8_t buf[1024];
	for (size_t i = 3; i + 1 < size; i += 2) {
		uint8_t op = data[i], arg = data[i + 1];
		int k = op % READERS;
		uint64_t w = ring_write_pos(r);
		switch ((op / READERS) % 8) {
		case 0: { /* copying write */
			size_t len = (size_t)arg * 4;
			for (size_t j = 0; j < len; j++)
				buf[j] = byte_at(w + j);
			size_t space = ring_write_space(r);
			bool waits = false; /* for a reader: with none, all is taken */
			for (int j = 0; j < READERS; j++)
				waits = waits || (rd[j] && !ring_reader_overrun(rd[j]));
			long got = ring_write(r, buf, len);
			if (got < 0 || (size_t)got > len)
				abort();
			if (mode == RING_BACKPRESSURE && waits &&
			    (size_t)got != (len < space ? len : space))
				abort();
			if ((mode == RING_DROP_SLOW || !waits) && (size_t)got != len)
				abort();
			break;
		}
		case 1: { /* zero-copy write, committing part of the room */
			void *dst;
			size_t room;
			int rc = ring_write_reserve(r, &dst, &room);
			if (rc == -EAGAIN) {
				if (ring_write_space(r) != 0)
					abort();
				break;
			}
			if (rc < 0 || room == 0 || room > chunk)
				abort();
			for (size_t j = 0; j < room; j++)
				((uint8_t *)dst)[j] = byte_at(w + j);
			/* more than reserved is clamped to the reservation */
			size_t n = arg & 0x80 ? room + arg : arg % (room + 1);
			ring_write_commit(r, n);
			if (ring_write_pos(r) != w + (n < room ? n : room))
				abort();
			break;
		}
		case 2: /* attach behind the live edge, on a packet boundary */
			if (arg & 2) {
				/* the index of random access points: a join there stays
				 * within what is held and within reach */
				ring_mark_rap(r, w > arg ? w - arg : 0);
				uint64_t behind = (uint64_t)arg * 8, rp;
				if (ring_join_rap(r, behind, &rp) == 0 &&
				    (rp < ring_start_pos(r) || rp > w || w - rp > behind))
					abort();
			}
			if (!rd[k]) {
				uint64_t pos;
				size_t align = arg & 1 ? 188 : 1 + arg % 7;
				int rc = ring_join_pos(r, (uint64_t)arg * 8, align, &pos);
				if (rc == -EAGAIN)
					break;
				if (rc < 0 || pos % align || pos < ring_start_pos(r) || pos > w)
					abort();
				if (ring_reader_attach(r, pos, &rd[k]) < 0)
					abort();
				if (ring_reader_pos(rd[k]) != pos)
					abort();
			}
			break;
		case 3: /* attach anywhere: clamped */
			if (!rd[k]) {
				uint64_t pos = (uint64_t)arg * 16;
				if (ring_reader_attach(r, pos, &rd[k]) < 0)
					abort();
				ring_reader_set_owner(rd[k], &rd[k]);
			}
			break;
		case 4: /* read */
		case 5:
			if (rd[k])
				read_some(rd[k], (size_t)arg * 4);
			break;
		case 6: /* detach */
			ring_reader_detach(rd[k]);
			rd[k] = NULL;
			break;
		case 7: /* drop overrun readers, or change the policy */
			if (arg & 1) {
				enum ring_mode m = arg & 2 ? RING_DROP_SLOW : RING_BACKPRESSURE;
				size_t ret = (size_t)(arg >> 2) * 8;
				int rc = ring_set_mode(r, m, ret);
				if (rc != (ret > cap ? -EINVAL : 0))
					abort();
				if (rc == 0) {
					mode = m;
					retain = ret;
					was_drop = was_drop || mode == RING_DROP_SLOW;
					/* data freed before cannot come back */
					held_at_change = ring_start_pos(r);
				}
				break;
			}
			for (struct ring_reader *o; (o = ring_first_overrun(r));) {
				int j = 0;
				while (j < READERS && rd[j] != o)
					j++;
				if (j == READERS || !ring_reader_overrun(o))
					abort();
				ring_reader_detach(o);
				rd[j] = NULL;
			}
			break;
		}
		uint64_t max_lag = 0;
		for (int j = 0; j < READERS; j++) {
			if (!rd[j])
				continue;
			if (ring_reader_overrun(rd[j]) && !was_drop)
				abort(); /* backpressure never overruns */
			if (!ring_reader_overrun(rd[j]) && ring_reader_lag(rd[j]) > max_lag)
				max_lag = ring_reader_lag(rd[j]);
		}
		check_ring(r, rd, cap, chunk, mode, retain, held_at_change, max_lag);
	}
	ring_free(r);
	return 0;
}
