/* Any X-Forwarded-For value and query string: a client address is always
 * chosen, in the canonical form (never IPv4-mapped IPv6), the token decoder
 * stays within its buffer. */
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dataplane/access_pure.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = '\0';
	static struct acexy_netlist trusted;
	static int init;
	if (!init) {
		acexy_netlist_parse("127.0.0.0/8, ::ffff:10.0.0.0/104, ::1/128", &trusted);
		init = 1;
	}
	struct sockaddr_storage peer, out;
	memset(&peer, 0, sizeof(peer));
	peer.ss_family = AF_INET;
	((uint8_t *)&((struct sockaddr_in *)&peer)->sin_addr)[0] = 127;
	access_client(&peer, s, &trusted, &out);
	if (out.ss_family != AF_INET && out.ss_family != AF_INET6)
		abort();
	if (out.ss_family == AF_INET6 &&
	    IN6_IS_ADDR_V4MAPPED(&((struct sockaddr_in6 *)&out)->sin6_addr))
		abort();
	/* an IPv4 address and its mapped form are one: in a list or not alike */
	if (out.ss_family == AF_INET) {
		struct sockaddr_in6 m = {.sin6_family = AF_INET6};
		m.sin6_addr.s6_addr[10] = m.sin6_addr.s6_addr[11] = 0xff;
		memcpy(m.sin6_addr.s6_addr + 12, &((struct sockaddr_in *)&out)->sin_addr, 4);
		if (acexy_netlist_contains(&trusted, (struct sockaddr *)&out) !=
		    acexy_netlist_contains(&trusted, (struct sockaddr *)&m))
			abort();
	}
	char tok[64];
	if (access_query_token(s, tok, sizeof(tok)) && strlen(tok) >= sizeof(tok))
		abort();
	access_token_equal(s, strlen(s), "secret");
	free(s);
	return 0;
}
