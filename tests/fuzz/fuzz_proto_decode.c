/* Any bytes on a daemon socket: decoded or refused, never a crash or a huge
 * allocation; what decodes re-encodes. */
#include <stdint.h>
#include <stdlib.h>

#include "acexy/proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct proto_msg m;
	char err[256];
	err[0] = '\0';
	if (proto_decode(data, size, &m, err, sizeof(err)) == 0) {
		uint8_t *buf;
		size_t len;
		if (proto_encode(m.type, m.id, m.body, &buf, &len) == 0)
			free(buf);
		proto_msg_clear(&m);
	} else if (!err[0]) {
		abort();
	}
	return 0;
}
