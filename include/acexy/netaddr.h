/* Listen addresses and network lists (pure parsers). */
#ifndef ACEXY_NETADDR_H
#define ACEXY_NETADDR_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* A listen address: ":8080" (all interfaces, dual-stack), "127.0.0.1:8080",
 * "[::]:8080", "[::1]:8080", "localhost:8080". */
struct acexy_addr {
	char host[64]; /* empty = any */
	uint16_t port;
};

/* An IPv4 address and its IPv4-mapped IPv6 form (::ffff:a.b.c.d) are one
 * address: a network is kept, and addresses are compared, in the 16-byte
 * IPv6 form (10.0.0.0/8 is ::ffff:10.0.0.0/104), so ::ffff:127.0.0.0/104
 * holds 127.0.0.1 and 127.0.0.0/8 holds ::ffff:127.0.0.1. */
struct acexy_net {
	int family;       /* as written: AF_INET or AF_INET6 */
	uint8_t addr[16]; /* the network in the IPv6 form */
	uint8_t prefix;   /* bits of addr, 0..128 */
};

#define ACEXY_NETLIST_MAX 64
struct acexy_netlist {
	size_t n;
	struct acexy_net nets[ACEXY_NETLIST_MAX];
};

int acexy_addr_parse(const char *text, struct acexy_addr *ret_addr);
/* One network: "10.0.0.0/8", "192.168.1.7", "::1/128". */
int acexy_net_parse(const char *text, struct acexy_net *ret_net);
/* Comma-separated list (spaces allowed). Empty string = empty list. */
int acexy_netlist_parse(const char *text, struct acexy_netlist *ret_list);
/* Appends one network to a list; -ENOSPC when full. */
int acexy_netlist_add(struct acexy_netlist *list, const char *text);
bool acexy_netlist_contains(const struct acexy_netlist *list, const struct sockaddr *sa);
/* An IPv4-mapped IPv6 address as the IPv4 address it is (port kept); any
 * other address as it is. in and out may be the same. The one form for
 * telling clients apart (per-client counts, logs). */
void acexy_addr_canonical(const struct sockaddr_storage *in, struct sockaddr_storage *out);

/* A port number 1-65535 in decimal, nothing else. 0 or -EINVAL. Pure. */
int acexy_parse_port(const char *s, uint16_t *ret_port);

#endif
