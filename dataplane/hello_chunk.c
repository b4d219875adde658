#include "dataplane/hello_chunk.h"

#include <errno.h>
#include <stdlib.h>

static int by_lease(const void *a, const void *b)
{
	uint64_t x = ((const struct proto_stream *)a)->lease;
	uint64_t y = ((const struct proto_stream *)b)->lease;
	return x < y ? -1 : x > y;
}

void dp_hello_sort(struct proto_stream *s, size_t n)
{
	if (s && n > 1)
		qsort(s, n, sizeof(*s), by_lease);
}

int dp_hello_encode(const struct proto_hello *all, uint64_t id, size_t budget, size_t *ret_ns,
                    size_t *ret_ne, uint8_t **ret_buf, size_t *ret_len)
{
	struct proto_hello h = *all;
	size_t ns = all->streams ? all->n_streams : 0;
	size_t ne = all->ended ? all->n_ended : 0;
	if (ns > DP_HELLO_STREAMS_MAX)
		ns = DP_HELLO_STREAMS_MAX;
	if (ne > DP_HELLO_ENDED_MAX)
		ne = DP_HELLO_ENDED_MAX;
	for (;;) {
		h.n_streams = ns;
		h.n_ended = ne;
		uint8_t *buf = NULL;
		size_t len = 0;
		int rc = proto_encode_hello(id, &h, &buf, &len);
		if (rc == 0 && (len <= budget || ns + ne <= 1)) {
			*ret_ns = ns;
			*ret_ne = ne;
			*ret_buf = buf;
			*ret_len = len;
			return 0;
		}
		if (rc < 0 && rc != -E2BIG)
			return rc;
		free(buf);
		if (ns + ne <= 1)
			return rc < 0 ? rc : -E2BIG;
		/* shrink both in proportion (halve when past the message cap):
		 * a few rounds at most */
		double f = rc == 0 ? (double)budget / (double)len * 0.9 : 0.5;
		size_t ns2 = (size_t)((double)ns * f), ne2 = (size_t)((double)ne * f);
		if (ns2 + ne2 == 0) {
			/* one record on its own: streams first */
			ns2 = ns > 0;
			ne2 = ns > 0 ? 0 : 1;
		}
		ns = ns2;
		ne = ne2;
	}
}
