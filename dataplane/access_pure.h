/* Pure helpers of the access checks (dataplane/access.h). */
#ifndef ACEXY_DP_ACCESS_PURE_H
#define ACEXY_DP_ACCESS_PURE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "acexy/netaddr.h"

/* The client address from the peer and an X-Forwarded-For value, in the
 * canonical form (an IPv4-mapped address as IPv4: acexy_addr_canonical). */
void access_client(const struct sockaddr_storage *peer, const char *xff,
                   const struct acexy_netlist *trusted, struct sockaddr_storage *out);
/* Constant-time comparison of a candidate with the token. */
bool access_token_equal(const char *candidate, size_t len, const char *token);
/* The decoded value of the query's `token` parameter into out ("" when
 * absent); false when it does not fit or does not decode. */
bool access_query_token(const char *query, char *out, size_t cap);

#endif
