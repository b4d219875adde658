/* Any bytes in the event spool file: valid records are handed over, the
 * rest counted as bad; never a crash, an overread or a leak. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "controlplane/spool.h"

static void on_add(void *ud, uint64_t seq, json_t *event)
{
	(void)seq;
	size_t len;
	char *line = spool_format_add(seq, event, &len);
	/* what was accepted re-formats to a line that parses again */
	if (line) {
		struct spool_parse_stats st;
		spool_parse(line, len, NULL, NULL, NULL, &st);
		if (st.added != 1 || st.bad != 0)
			abort();
		free(line);
	}
	++*(uint64_t *)ud;
}

static void on_done(void *ud, uint64_t seq)
{
	(void)seq;
	++*(uint64_t *)ud;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint64_t n = 0;
	struct spool_parse_stats st;
	spool_parse((const char *)data, size, on_add, on_done, &n, &st);
	if (n != st.added + st.done || st.added + st.done + st.bad > st.lines)
		abort();
	return 0;
}
