/* Who may use the dataplane (INTERFACE.md, ACEXY_ALLOW_NETS,
 * ACEXY_ACCESS_TOKEN, ACEXY_MAX_CONNS_PER_IP, ACEXY_TRUSTED_PROXIES).
 *
 * The client is the connection's peer or, when the peer is a trusted proxy,
 * the rightmost X-Forwarded-For address that is not itself a trusted proxy.
 * /livez, /readyz and /metrics are always served (probes and scrapers come
 * from the cluster). Everything else: a client outside ACEXY_ALLOW_NETS gets
 * 403; with ACEXY_ACCESS_TOKEN set, every /ace/ path needs ?token= or
 * "Authorization: Bearer" (missing 401, wrong 403; compared in constant
 * time; never forwarded to the engine nor logged) — except /ace/hls/<id>/…,
 * whose unguessable session id is the capability the playlist handed out;
 * with ACEXY_MAX_CONNS_PER_IP, a client's connections beyond it get 503,
 * counted from accept. */
#ifndef ACEXY_DP_ACCESS_H
#define ACEXY_DP_ACCESS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "dataplane/access_pure.h"
#include "dataplane/conn.h"

/* 0: go on. -1: refused, the answer is on its way. */
int access_check(struct conn *c, const struct http_request *req, const char *path);
/* At accept: the connection counts against ACEXY_MAX_CONNS_PER_IP from
 * its first byte on (by its peer; a trusted proxy's by the client it names,
 * at access_check); beyond the cap it is answered 503 and closes. */
void access_admit(struct conn *c);
/* A stream or HLS request takes one of ACEXY_MAX_VIEWERS seats until it is
 * answered or its connection closes; false when none is left. Connections
 * waiting for a request hold none. */
bool access_take_viewer(struct conn *c);
void access_give_viewer(struct conn *c);
/* The connection closes: its per-client count and its seat go. */
void access_release(struct conn *c);

#endif
