/* Reading an engine session's stat_url (CONTRACTS.md §1: status prebuf/dl,
 * peers, speeds, progress) now and then, on the worker loop that owns the
 * session. Streams read it to show what the engine does while it
 * prebuffers and plays (/ace/status, acexyctl, /metrics); probes read it to
 * learn whether a content plays. One read in flight per poll, each within
 * STAT_READ_TIMEOUT_S and STAT_BODY_MAX bytes. */
#ifndef ACEXY_DP_STAT_POLL_H
#define ACEXY_DP_STAT_POLL_H

#include <ev.h>
#include <stdbool.h>

#include "acexy/engine_answer.h"

#define STAT_BODY_MAX       16384
#define STAT_READ_TIMEOUT_S 3
#define STAT_PERIOD_PREBUF  1.0  /* s: while a stream waits for its first bytes */
#define STAT_PERIOD_PLAYING 10.0 /* s: while it plays (the engine is busy enough) */

struct worker;
struct stat_poll;
struct http_fetch;

/* One read's outcome: ok with the engine's answer, or not ok (unreachable,
 * not 200, not a stat answer) with a one-line reason. The callback may stop
 * and free the poll. */
typedef void (*stat_poll_fn)(void *ud, bool ok, const struct engine_stat *st, const char *why);

struct stat_poll {
	struct worker *w;
	char url[ENGINE_URL_MAX];
	stat_poll_fn cb;
	void *ud;
	double period;
	ev_timer timer;
	struct http_fetch *fetch; /* a read in flight */
	bool active;
};

void stat_poll_init(struct stat_poll *p, struct worker *w, stat_poll_fn cb, void *ud);
/* Reads url after `first` seconds, then every `period` seconds. */
void stat_poll_begin(struct stat_poll *p, const char *url, double first, double period);
/* The next read after `next` seconds, then every `period` seconds. */
void stat_poll_reschedule(struct stat_poll *p, double next, double period);
/* No more reads; a read in flight is cancelled. Safe on a poll never begun. */
void stat_poll_stop(struct stat_poll *p);

#endif
