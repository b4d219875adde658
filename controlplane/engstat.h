/* The engine's own view of each stream: the controlplane reads every
 * started lease's stat_url at a modest rate (one lease per tick, each lease
 * about every 10 s, at most 4 calls in flight) for acexyctl streams: status,
 * peers, download/upload speed. */
#ifndef ACEXY_CP_ENGSTAT_H
#define ACEXY_CP_ENGSTAT_H

struct cp;
struct engstat;

int engstat_start(struct cp *cp, struct engstat **ret);
void engstat_stop(struct engstat *e);

#endif
