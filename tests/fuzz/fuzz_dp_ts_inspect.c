/* Drives the TS scanner and the splice with engine bytes from the input.
 * The first byte chooses the checks (CRC on/off) and the split sizes; a byte
 * 0xB8 ('switch') at a position the split lands on starts a new source.
 * Checked: the splice only ever gives whole packets, never more bytes than
 * it took plus the packets it inserted, and the scanner's positions stay
 * within what it was fed. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dataplane/ts_inspect.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	uint8_t mode = data[0];
	data++;
	size--;
	static struct ts_scan t;
	static struct ts_splice sp;
	ts_scan_init(&t, 0);
	t.check_crc = (mode & 1) != 0;
	ts_splice_init(&sp);
	uint8_t *copy = malloc(size ? size : 1);
	memcpy(copy, data, size);
	size_t step = 1 + (size_t)(mode >> 1) * 13;
	uint64_t in = 0, out = 0;
	for (size_t o = 0; o < size;) {
		size_t n = step < size - o ? step : size - o;
		ts_scan_feed(&t, data + o, n);
		if (copy[o] == 0xb8)
			ts_splice_switch(&sp, (uint64_t)copy[o] * 100, 8);
		size_t off = 0;
		while (off < n) {
			struct ts_seg seg[TS_SPLICE_SEGS];
			size_t used = 0;
			int k = ts_splice_feed(&sp, copy + o + off, n - off, seg, TS_SPLICE_SEGS,
			                       &used);
			if (k < 0 || k > TS_SPLICE_SEGS)
				abort();
			for (int i = 0; i < k; i++) {
				if (seg[i].len == 0)
					abort();
				volatile uint8_t x = seg[i].p[0];
				(void)x;
				out += seg[i].len;
			}
			if (used == 0 && k == 0)
				abort(); /* no progress */
			off += used;
		}
		in += n;
		o += n;
		if (out % TS_PKT != 0 || out > in + sp.inserted * TS_PKT)
			abort();
	}
	if (t.raps && (t.last_rap >= t.pos || t.keyframe >= t.pos || t.last_rap > t.keyframe))
		abort();
	free(copy);
	return 0;
}
