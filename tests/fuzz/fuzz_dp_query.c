#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dataplane/query.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct viewer_query *q = NULL;
	char err[256] = "";
	if (viewer_query_parse((const char *)data, size, &q, err, sizeof(err)) == 0) {
		char buf[20000];
		if (!viewer_query_key(q)[0] || !viewer_query_mux_key(q))
			abort();
		(void)viewer_query_engine_query(q, "0123456789abcdef", buf, sizeof(buf));
		viewer_query_free(q);
	} else if (!err[0]) {
		abort();
	}
	return 0;
}
