/* sd_notify(3) without libsystemd: one datagram to $NOTIFY_SOCKET. */
#include "acexy/sdnotify.h"

#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int acexy_sd_notify(const char *state)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa;
	size_t n;
	if (!path || !*path)
		return 0;
	n = strlen(path);
	if ((path[0] != '/' && path[0] != '@') || n >= sizeof(sa.sun_path))
		return -EINVAL;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, path, n);
	if (path[0] == '@')
		sa.sun_path[0] = '\0'; /* the abstract namespace */
	socklen_t len =
	        (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + (path[0] == '/' ? 1 : 0));
	int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	ssize_t w = sendto(fd, state, strlen(state), MSG_DONTWAIT | MSG_NOSIGNAL,
	                   (struct sockaddr *)&sa, len);
	int err = w < 0 ? -errno : 1;
	close(fd);
	return err;
}

static uint64_t env_u64(const char *name)
{
	const char *v = getenv(name);
	char *end;
	if (!v || !*v)
		return 0;
	errno = 0;
	unsigned long long x = strtoull(v, &end, 10);
	if (errno || *end || v[0] == '-')
		return 0;
	return (uint64_t)x;
}

uint64_t acexy_sd_watchdog_usec(void)
{
	const char *pid = getenv("WATCHDOG_PID");
	if (pid && *pid && env_u64("WATCHDOG_PID") != (uint64_t)getpid())
		return 0;
	return env_u64("WATCHDOG_USEC");
}

static void on_watchdog(struct ev_loop *loop, ev_timer *t, int revents)
{
	(void)loop;
	(void)t;
	(void)revents;
	acexy_sd_notify("WATCHDOG=1");
}

void acexy_sd_ready(struct ev_loop *loop, struct acexy_sd *sd, const char *status)
{
	char msg[256];
	if (!getenv("NOTIFY_SOCKET"))
		return;
	snprintf(msg, sizeof(msg), "READY=1%s%s", status ? "\nSTATUS=" : "", status ? status : "");
	acexy_sd_notify(msg);
	uint64_t usec = acexy_sd_watchdog_usec();
	if (usec > 0) {
		double every = (double)usec / 2e6;
		ev_timer_init(&sd->watchdog, on_watchdog, every, every);
		ev_timer_start(loop, &sd->watchdog);
		/* the loop's own timer must not keep it alive at shutdown */
		ev_unref(loop);
	}
}

void acexy_sd_stopping(struct acexy_sd *sd)
{
	(void)sd;
	acexy_sd_notify("STOPPING=1");
}
