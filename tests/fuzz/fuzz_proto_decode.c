/* Any bytes on a daemon socket: decoded or refused, never a crash or a huge
 * allocation; what decodes re-encodes from its typed body, and that encoding
 * decodes again to the same bytes (the field tables are a fixed point). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "acexy/proto.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct proto_msg m;
	char err[256];
	err[0] = '\0';
	/* every direction as a receiver: the direction check must say why */
	static const enum proto_dir dirs[] = {PROTO_DP_TO_CP, PROTO_CP_TO_DP, PROTO_CTL_TO_DAEMON,
	                                      PROTO_DAEMON_TO_CTL};
	for (size_t i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		err[0] = '\0';
		if (proto_decode(data, size, dirs[i], &m, err, sizeof(err)) == 0)
			proto_msg_clear(&m);
		else if (!err[0])
			abort();
	}
	err[0] = '\0';
	if (proto_decode(data, size, PROTO_ANY, &m, err, sizeof(err)) == 0) {
		uint8_t *buf, *buf2;
		size_t len, len2;
		/* the typed body re-encodes (a string with NUL inside a free-form
		 * map may not: that is refused, not a crash) */
		if (proto_encode(m.type, m.id, &m.hello, &buf, &len) == 0) {
			struct proto_msg m2;
			if (proto_decode(buf, len, PROTO_ANY, &m2, err, sizeof(err)) != 0)
				abort();
			if (proto_encode(m2.type, m2.id, &m2.hello, &buf2, &len2) != 0)
				abort();
			if (len != len2 || memcmp(buf, buf2, len) != 0)
				abort();
			free(buf2);
			proto_msg_clear(&m2);
			free(buf);
		}
		proto_msg_clear(&m);
	} else if (!err[0]) {
		abort();
	}
	return 0;
}
