#include <stdint.h>
#include <stdlib.h>

#include "tscheck.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct tscheck t;
	tscheck_init(&t);
	size_t step = size ? (size_t)data[0] % 200 + 1 : 1;
	for (size_t off = 0; off < size; off += step)
		tscheck_feed(&t, data + off, size - off < step ? size - off : step);
	if (t.bytes != size || t.packets * 188 > size)
		abort();
	return 0;
}
