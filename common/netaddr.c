#include "acexy/netaddr.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

int acexy_parse_port(const char *s, uint16_t *ret_port)
{
	if (!*s || strlen(s) > 5)
		return -EINVAL;
	unsigned v = 0;
	for (const char *c = s; *c; c++) {
		if (!isdigit((unsigned char)*c))
			return -EINVAL;
		v = v * 10 + (unsigned)(*c - '0');
	}
	if (v == 0 || v > 65535)
		return -EINVAL;
	*ret_port = (uint16_t)v;
	return 0;
}

static bool valid_hostname(const char *h)
{
	size_t n = strlen(h);
	if (n == 0 || n > 63)
		return false;
	for (const char *c = h; *c; c++)
		if (!isalnum((unsigned char)*c) && *c != '-' && *c != '.' && *c != '_')
			return false;
	return true;
}

int acexy_addr_parse(const char *text, struct acexy_addr *ret_addr)
{
	struct acexy_addr a = {0};
	const char *colon;
	if (!text)
		return -EINVAL;
	if (text[0] == '[') {
		const char *close = strchr(text, ']');
		if (!close || close[1] != ':')
			return -EINVAL;
		size_t hl = (size_t)(close - text - 1);
		if (hl == 0 || hl >= sizeof(a.host))
			return -EINVAL;
		memcpy(a.host, text + 1, hl);
		struct in6_addr in6;
		if (inet_pton(AF_INET6, a.host, &in6) != 1)
			return -EINVAL;
		colon = close + 1;
	} else {
		colon = strrchr(text, ':');
		if (!colon)
			return -EINVAL;
		size_t hl = (size_t)(colon - text);
		if (hl >= sizeof(a.host))
			return -EINVAL;
		memcpy(a.host, text, hl);
		if (memchr(a.host, ':', hl))
			return -EINVAL; /* bare IPv6 needs brackets */
		if (hl > 0 && !valid_hostname(a.host))
			return -EINVAL;
	}
	if (acexy_parse_port(colon + 1, &a.port) < 0)
		return -EINVAL;
	*ret_addr = a;
	return 0;
}

/* The 16-byte form every address is compared in: IPv6 as it is, IPv4 as
 * its IPv4-mapped IPv6 address ::ffff:a.b.c.d. */
static void canonical16(int family, const void *addr, uint8_t out[16])
{
	if (family == AF_INET) {
		static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
		memcpy(out, mapped, 12);
		memcpy(out + 12, addr, 4);
	} else {
		memcpy(out, addr, 16);
	}
}

int acexy_net_parse(const char *text, struct acexy_net *ret_net)
{
	char buf[64];
	struct acexy_net n = {0};
	size_t len = strlen(text);
	if (len == 0 || len >= sizeof(buf))
		return -EINVAL;
	memcpy(buf, text, len + 1);
	char *slash = strchr(buf, '/');
	long prefix = -1;
	if (slash) {
		*slash = '\0';
		const char *p = slash + 1;
		if (!*p || strlen(p) > 3)
			return -EINVAL;
		prefix = 0;
		for (; *p; p++) {
			if (!isdigit((unsigned char)*p))
				return -EINVAL;
			prefix = prefix * 10 + (*p - '0');
		}
	}
	uint8_t raw[16];
	if (inet_pton(AF_INET, buf, raw) == 1) {
		n.family = AF_INET;
		if (prefix < 0)
			prefix = 32;
		if (prefix > 32)
			return -EINVAL;
		prefix += 96; /* counted in the IPv4-mapped form */
	} else if (inet_pton(AF_INET6, buf, raw) == 1) {
		n.family = AF_INET6;
		if (prefix < 0)
			prefix = 128;
		if (prefix > 128)
			return -EINVAL;
	} else {
		return -EINVAL;
	}
	canonical16(n.family, raw, n.addr);
	n.prefix = (uint8_t)prefix;
	*ret_net = n;
	return 0;
}

int acexy_netlist_add(struct acexy_netlist *list, const char *text)
{
	struct acexy_net n;
	int rc = acexy_net_parse(text, &n);
	if (rc < 0)
		return rc;
	if (list->n >= ACEXY_NETLIST_MAX)
		return -ENOSPC;
	list->nets[list->n++] = n;
	return 0;
}

int acexy_netlist_parse(const char *text, struct acexy_netlist *ret_list)
{
	struct acexy_netlist l = {0};
	const char *p = text;
	while (*p) {
		while (*p == ' ' || *p == '\t')
			p++;
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		while (len > 0 && (p[len - 1] == ' ' || p[len - 1] == '\t'))
			len--;
		char item[64];
		if (len == 0 || len >= sizeof(item))
			return -EINVAL;
		memcpy(item, p, len);
		item[len] = '\0';
		int rc = acexy_netlist_add(&l, item);
		if (rc < 0)
			return rc;
		if (!end)
			break;
		p = end + 1;
		if (!*p)
			return -EINVAL; /* trailing comma */
	}
	*ret_list = l;
	return 0;
}

static bool prefix_match(const uint8_t *a, const uint8_t *b, unsigned bits)
{
	unsigned bytes = bits / 8, rem = bits % 8;
	if (memcmp(a, b, bytes) != 0)
		return false;
	if (rem == 0)
		return true;
	uint8_t mask = (uint8_t)(0xff << (8 - rem));
	return (a[bytes] & mask) == (b[bytes] & mask);
}

bool acexy_netlist_contains(const struct acexy_netlist *list, const struct sockaddr *sa)
{
	uint8_t a[16];
	if (sa->sa_family == AF_INET)
		canonical16(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, a);
	else if (sa->sa_family == AF_INET6)
		canonical16(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, a);
	else
		return false;
	for (size_t i = 0; i < list->n; i++)
		if (prefix_match(list->nets[i].addr, a, list->nets[i].prefix))
			return true;
	return false;
}

void acexy_addr_canonical(const struct sockaddr_storage *in, struct sockaddr_storage *out)
{
	const struct sockaddr_in6 *a6 = (const struct sockaddr_in6 *)in;
	if (in->ss_family != AF_INET6 || !IN6_IS_ADDR_V4MAPPED(&a6->sin6_addr)) {
		if (out != in)
			*out = *in;
		return;
	}
	struct sockaddr_in a4 = {.sin_family = AF_INET, .sin_port = a6->sin6_port};
	memcpy(&a4.sin_addr, a6->sin6_addr.s6_addr + 12, 4);
	memset(out, 0, sizeof(*out));
	memcpy(out, &a4, sizeof(a4));
}
