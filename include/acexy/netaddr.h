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

struct acexy_net {
	int family; /* AF_INET or AF_INET6 */
	uint8_t addr[16];
	uint8_t prefix;
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

#endif
