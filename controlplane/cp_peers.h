/* Who is on the control socket: every connection (nng pipe) from the moment
 * it is added, whether it has said a valid hello (bound to an instance), and
 * the refusal budget. Connections that never say a valid hello are closed
 * after a while; refusals beyond the budget close the connection instead of
 * being answered. No logging, no I/O besides closing pipes. */
#ifndef ACEXY_CP_PEERS_H
#define ACEXY_CP_PEERS_H

#include <stdbool.h>
#include <stdint.h>

#define CP_PEERS_UNBOUND_S      10.0 /* a connection has this long to say a valid hello */
#define CP_PEERS_REFUSALS_PER_S 20.0 /* refusals answered per second (burst as many) */

struct cp_peers;
int cp_peers_new(struct cp_peers **ret);
void cp_peers_free(struct cp_peers *p);
void cp_peers_added(struct cp_peers *p, uint32_t pipe, double now);
void cp_peers_removed(struct cp_peers *p, uint32_t pipe);
/* The connection said a valid hello: it stays. Its hello may be handled
 * before cp_peers_added (nng receives on a pipe before its "added" event
 * reaches the loop): the entry is made here then, and cp_peers_added keeps
 * it bound. */
void cp_peers_bind(struct cp_peers *p, uint32_t pipe, double now);
bool cp_peers_bound(const struct cp_peers *p, uint32_t pipe);
/* Closes (ipc_pipe_close) connections unbound for longer than limit_s;
 * returns how many. */
unsigned cp_peers_expire(struct cp_peers *p, double now, double limit_s);
/* May one more refusal be answered now? (token bucket) */
bool cp_peers_refusal_allowed(struct cp_peers *p, double now);
unsigned cp_peers_count(const struct cp_peers *p);

#endif
