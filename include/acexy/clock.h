/* The one clock of both daemons: monotonic seconds (never jumps with the
 * wall clock). Durations, timeouts and ages all come from it. */
#ifndef ACEXY_CLOCK_H
#define ACEXY_CLOCK_H

#include <time.h>

static inline double acexy_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

#endif
