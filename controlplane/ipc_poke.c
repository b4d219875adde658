/* Test helper: ipc_poke URL HEX|- — sends the bytes (hex, or raw from
 * stdin with "-"), prints the answer's message type name (or "none" after
 * 2 s). */
#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acexy/proto.h"

int main(int argc, char **argv)
{
	if (argc != 3)
		return 2;
	size_t n = 0;
	unsigned char *b = NULL;
	if (strcmp(argv[2], "-") == 0) {
		size_t cap = 0;
		for (;;) {
			if (n + 65536 > cap) {
				unsigned char *nb = realloc(b, cap = cap * 2 + 65536);
				if (!nb)
					return 1;
				b = nb;
			}
			size_t r = fread(b + n, 1, cap - n, stdin);
			if (r == 0)
				break;
			n += r;
		}
	} else {
		n = strlen(argv[2]) / 2;
		b = malloc(n + 1);
		for (size_t i = 0; i < n; i++)
			sscanf(argv[2] + 2 * i, "%2hhx", &b[i]);
	}
	nng_socket s;
	nng_req0_open(&s);
	nng_socket_set_ms(s, NNG_OPT_SENDTIMEO, 2000);
	nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, 2000);
	if (nng_dial(s, argv[1], NULL, 0) != 0 || nng_send(s, b, n, 0) != 0) {
		printf("none\n");
		return 1;
	}
	void *r;
	size_t rl;
	if (nng_recv(s, &r, &rl, NNG_FLAG_ALLOC) != 0) {
		printf("none\n");
		return 1;
	}
	struct proto_msg m;
	char err[256];
	if (proto_decode(r, rl, PROTO_ANY, &m, err, sizeof(err)) == 0) {
		printf("%s %s\n", proto_type_name(m.type),
		       m.type == PROTO_ERROR ? m.error.message : "");
		proto_msg_clear(&m);
	} else {
		printf("undecodable\n");
	}
	nng_free(r, rl);
	nng_close(s);
	free(b);
	return 0;
}
