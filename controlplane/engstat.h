/* The engine's own view of each stream: the controlplane reads every
 * started lease's stat_url at a modest rate (one lease per tick, each lease
 * about every 10 s, at most 4 calls in flight) for acexyctl streams: status,
 * peers, download/upload speed. */
#ifndef ACEXY_CP_ENGSTAT_H
#define ACEXY_CP_ENGSTAT_H

#include <ev.h>
#include <stdbool.h>

struct engstat;
struct curl_ev;
struct lease_table;

/* Reads the stat_url of the leases' engines (the fields stat_* of each
 * lease) on loop, with ce. */
/* engine_ok (may be NULL) says whether an engine may be called: only
 * engines the controlplane knows are (a rebuilt lease names its own). */
typedef bool (*engstat_engine_ok)(void *ud, const char *host, unsigned port);
int engstat_start(struct ev_loop *loop, struct curl_ev *ce, struct lease_table *leases,
                  engstat_engine_ok engine_ok, void *ud, struct engstat **ret);
void engstat_stop(struct engstat *e);

#endif
