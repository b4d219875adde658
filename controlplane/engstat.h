/* The engine's own view of each stream: the controlplane reads every
 * started lease's stat_url at a modest rate (one lease per tick, each lease
 * about every 10 s, at most 4 calls in flight) for acexyctl streams: status,
 * peers, download/upload speed. */
#ifndef ACEXY_CP_ENGSTAT_H
#define ACEXY_CP_ENGSTAT_H

#include <ev.h>

struct engstat;
struct curl_ev;
struct lease_table;

/* Reads the stat_url of the leases' engines (the fields stat_* of each
 * lease) on loop, with ce. */
int engstat_start(struct ev_loop *loop, struct curl_ev *ce, struct lease_table *leases,
                  struct engstat **ret);
void engstat_stop(struct engstat *e);

#endif
