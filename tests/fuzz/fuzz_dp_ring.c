/* Drives the ring with an operation sequence from the input and checks that
 * every byte read is the byte written at that position. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dataplane/ring.h"

#define READERS 4

static uint8_t byte_at(uint64_t pos)
{
	return (uint8_t)(pos * 131 + (pos >> 8));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	struct ring *r;
	size_t cap = (size_t)data[0] * 16 + 1, chunk = (size_t)data[1] % 64 + 1;
	if (ring_new(cap, chunk, &r) < 0)
		return 0;
	struct ring_reader *rd[READERS] = {0};
	uint8_t buf[1024];
	for (size_t i = 2; i + 1 < size; i += 2) {
		uint8_t op = data[i], arg = data[i + 1];
		int k = op % READERS;
		switch ((op / READERS) % 4) {
		case 0: { /* write */
			uint64_t w = ring_write_pos(r);
			size_t len = (size_t)arg * 4;
			for (size_t j = 0; j < len; j++)
				buf[j] = byte_at(w + j);
			long got = ring_write(r, buf, len);
			if (got < 0 || (size_t)got > len)
				abort();
			break;
		}
		case 1: /* attach */
			if (!rd[k]) {
				uint64_t w = ring_write_pos(r);
				uint64_t pos = w > (uint64_t)arg * 8 ? w - (uint64_t)arg * 8 : 0;
				if (ring_reader_attach(r, pos, &rd[k]) < 0)
					rd[k] = NULL;
			}
			break;
		case 2: /* read */
			if (rd[k]) {
				struct iovec iov[8];
				uint64_t pos = ring_reader_pos(rd[k]);
				int n = ring_reader_iov(rd[k], iov, 8, (size_t)arg * 4);
				size_t total = 0;
				for (int j = 0; j < n; j++) {
					for (size_t b = 0; b < iov[j].iov_len; b++)
						if (((uint8_t *)iov[j].iov_base)[b] !=
						    byte_at(pos + total + b))
							abort();
					total += iov[j].iov_len;
				}
				if (total > ring_reader_lag(rd[k]))
					abort();
				ring_reader_consume(rd[k], total);
			}
			break;
		case 3: /* detach */
			ring_reader_detach(rd[k]);
			rd[k] = NULL;
			break;
		}
		if (ring_memory(r) > cap + 3 * chunk)
			abort();
	}
	ring_free(r);
	return 0;
}
