/* The pure parts of dataplane/access.h: the client behind trusted proxies,
 * the token from a query, the constant-time comparison. */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "acexy/secret.h"
#include "dataplane/access_pure.h"
#include "dataplane/query.h"

static bool parse_ip(const char *s, size_t n, struct sockaddr_storage *out)
{
	char buf[64];
	while (n > 0 && (*s == ' ' || *s == '\t')) {
		s++;
		n--;
	}
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	if (n > 1 && s[0] == '[' && s[n - 1] == ']') { /* [v6] */
		s++;
		n -= 2;
	}
	if (n == 0 || n >= sizeof(buf))
		return false;
	memcpy(buf, s, n);
	buf[n] = '\0';
	memset(out, 0, sizeof(*out));
	struct sockaddr_in *a4 = (struct sockaddr_in *)out;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)out;
	if (inet_pton(AF_INET, buf, &a4->sin_addr) == 1) {
		a4->sin_family = AF_INET;
		return true;
	}
	if (inet_pton(AF_INET6, buf, &a6->sin6_addr) == 1) {
		a6->sin6_family = AF_INET6;
		return true;
	}
	return false;
}

static void pick_client(const struct sockaddr_storage *peer, const char *xff,
                        const struct acexy_netlist *trusted, struct sockaddr_storage *out)
{
	*out = *peer;
	if (!xff || !trusted->n || !acexy_netlist_contains(trusted, (const struct sockaddr *)peer))
		return;
	/* right to left: the first hop that is not a trusted proxy */
	size_t end = strlen(xff);
	while (end > 0) {
		size_t start = end;
		while (start > 0 && xff[start - 1] != ',')
			start--;
		struct sockaddr_storage a;
		if (!parse_ip(xff + start, end - start, &a))
			return; /* garbage: believe the peer only */
		*out = a;
		if (!acexy_netlist_contains(trusted, (const struct sockaddr *)&a))
			return;
		end = start > 0 ? start - 1 : 0;
	}
}

void access_client(const struct sockaddr_storage *peer, const char *xff,
                   const struct acexy_netlist *trusted, struct sockaddr_storage *out)
{
	pick_client(peer, xff, trusted, out);
	acexy_addr_canonical(out, out); /* ::ffff:a.b.c.d is a.b.c.d */
}

bool access_token_equal(const char *candidate, size_t len, const char *token)
{
	return acexy_secret_equal(candidate, len, token);
}

bool access_query_token(const char *q, char *out, size_t cap)
{
	out[0] = '\0';
	while (q && *q) {
		const char *amp = strchr(q, '&');
		size_t n = amp ? (size_t)(amp - q) : strlen(q);
		if (n >= 6 && strncmp(q, "token=", 6) == 0)
			return query_decode(q + 6, n - 6, out, cap) == 0;
		q = amp ? amp + 1 : NULL;
	}
	return true;
}
