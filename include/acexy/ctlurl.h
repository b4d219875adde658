/* ACEXY_CONTROL_URL: where the controlplane listens and dataplanes dial.
 * ipc://PATH, tcp://HOST:PORT or tls+tcp://HOST:PORT (HOST a name, an IPv4
 * address or a bracketed IPv6 address; empty = every address, listen only).
 * Pure. */
#ifndef ACEXY_CTLURL_H
#define ACEXY_CTLURL_H

#include <stdbool.h>
#include <stddef.h>

enum acexy_ctl_scheme { ACEXY_CTL_IPC, ACEXY_CTL_TCP, ACEXY_CTL_TLS };

struct acexy_ctlurl {
	enum acexy_ctl_scheme scheme;
	char host[256]; /* without brackets; "" = any (tcp/tls) */
	unsigned port;
	char path[108]; /* ipc */
};

/* 0 or -EINVAL. */
int acexy_ctlurl_parse(const char *text, struct acexy_ctlurl *ret);
/* The URL nng takes: "tls+tcp://" stays, ipc and tcp as given. */
const char *acexy_ctl_scheme_name(enum acexy_ctl_scheme s);
/* Over the network (a token is required). */
static inline bool acexy_ctlurl_is_net(const struct acexy_ctlurl *u)
{
	return u->scheme != ACEXY_CTL_IPC;
}

#endif
