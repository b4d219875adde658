/* -finstrument-functions hook for tests/bench/walk/walk.py: appends one
 * record (thread id, function address, CLOCK_MONOTONIC ns) per function
 * entry to the file $ACEXY_WALK_OUT. Compiled without instrumentation and
 * linked into an instrumented dataplane only; never part of the product. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

void __cyg_profile_func_enter(void *fn, void *site);
void __cyg_profile_func_exit(void *fn, void *site);

static int walk_fd = -2;

__attribute__((no_instrument_function)) void __cyg_profile_func_enter(void *fn, void *site)
{
	(void)site;
	if (walk_fd == -2) {
		const char *p = getenv("ACEXY_WALK_OUT");
		walk_fd = p ? open(p, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644) : -1;
	}
	if (walk_fd < 0)
		return;
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	uint64_t rec[3] = {(uint64_t)syscall(SYS_gettid), (uint64_t)(uintptr_t)fn,
	                   (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec};
	ssize_t n = write(walk_fd, rec, sizeof(rec));
	(void)n;
}

__attribute__((no_instrument_function)) void __cyg_profile_func_exit(void *fn, void *site)
{
	(void)fn;
	(void)site;
}
