/* systemd's service notification protocol (sd_notify(3)) without libsystemd:
 * a Type=notify unit learns when the daemon is ready, a WatchdogSec= unit
 * gets WATCHDOG=1 pings, and the daemon says when it is stopping. Every
 * function does nothing when the daemon was not started by systemd
 * (NOTIFY_SOCKET unset). */
#ifndef ACEXY_SDNOTIFY_H
#define ACEXY_SDNOTIFY_H

#include <ev.h>
#include <stdint.h>

/* Sends one notification (newline-separated KEY=VALUE lines, such as
 * "READY=1") to $NOTIFY_SOCKET: a path, or an abstract name starting with
 * '@'. Never blocks. 1: sent; 0: no NOTIFY_SOCKET; negative errno. */
int acexy_sd_notify(const char *state);

/* The interval systemd expects WATCHDOG=1 within ($WATCHDOG_USEC), when it
 * is meant for this process ($WATCHDOG_PID unset or ours); 0 otherwise. */
uint64_t acexy_sd_watchdog_usec(void);

struct acexy_sd {
	ev_timer watchdog;
};

/* READY=1 (with STATUS=status when given), then WATCHDOG=1 from loop at
 * half of the watchdog interval, so a stuck loop gets the service
 * restarted. */
void acexy_sd_ready(struct ev_loop *loop, struct acexy_sd *sd, const char *status);

/* STOPPING=1; the watchdog pings go on until the loop ends (a drain may
 * take longer than the interval). */
void acexy_sd_stopping(struct acexy_sd *sd);

#endif
