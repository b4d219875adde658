/* The playback transfer from the engine, spoken by the dataplane itself.
 *
 * libcurl only connects (name resolution, address attempts, the connect
 * timeout); the request, the response head and the body are ours, so the
 * body can be read straight into the viewer's path: with splice(2) into a
 * pipe (no copy through user space) or with recv into a buffer, chunked
 * framing removed either way (http_response.h). An https:// URL (an engine
 * behind TLS) is read through curl_easy_recv instead: no splice there.
 *
 * One upstream belongs to one stream on one worker loop. Callbacks come from
 * the loop and may close (or free the owner of) the upstream; the upstream
 * does not touch itself after calling one. */
#ifndef ACEXY_DP_UPSTREAM_H
#define ACEXY_DP_UPSTREAM_H

#include <curl/curl.h>
#include <ev.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "acexy/curl_ev.h"
#include "dataplane/http_response.h"

enum upstream_fail {
	UPSTREAM_FAIL_CONNECT, /* refused, unresolvable, unreachable */
	UPSTREAM_FAIL_TIMEOUT, /* the connect timeout passed */
	UPSTREAM_FAIL_CLOSED,  /* the engine closed before a whole head */
	UPSTREAM_FAIL_BAD,     /* not an HTTP/1.x head, or too large */
};

struct upstream_ops {
	/* The response head arrived (1xx heads are skipped). For the body, call
	 * upstream_body_start(); otherwise close the upstream. */
	void (*head)(void *ud, const struct http_head *h);
	/* During the body: bytes (or the end) may be there to read. */
	void (*readable)(void *ud);
	/* Before the head: the transfer failed (msg says how). */
	void (*failed)(void *ud, enum upstream_fail why, const char *msg);
};

/* Results of the read calls besides a byte count (> 0) or 0 (nothing now). */
#define UPSTREAM_EOF        (-1) /* the body ended properly */
#define UPSTREAM_ERROR      (-2) /* reset, truncated, bad framing: upstream_error() */
#define UPSTREAM_NEED_FRAME (-3) /* upstream_splice: framing next, use upstream_read */

struct upstream {
	struct ev_loop *loop;
	struct curl_ev *ce;
	const struct upstream_ops *ops;
	void *ud;
	CURL *easy; /* connect-only: owns the connection */
	bool tls;   /* https: bytes through curl_easy_send/recv, no splice */
	int fd;
	ev_io io;
	int state;
	char *req; /* the request, while it is being sent */
	size_t req_len, req_off;
	char *buf; /* the head, then body bytes read with it */
	size_t buf_len, buf_off;
	struct http_body body;
	bool eof;
	bool drained; /* the last socket read got less than it asked for */
	int lowat;
	char error[160];
};

/* Zeroes u (fd -1). Safe to close at once. */
void upstream_init(struct upstream *u);
/* Starts GET url. -1 with err filled when the URL is unusable (not http or
 * https, too long); callbacks only after a 0 return. */
int upstream_open(struct upstream *u, struct ev_loop *loop, struct curl_ev *ce, const char *url,
                  long connect_timeout_ms, const struct upstream_ops *ops, void *ud, char *err,
                  size_t errlen);
/* Reads the body from now on (readable callbacks while wanted). */
void upstream_body_start(struct upstream *u);
/* Readable callbacks on or off (backpressure). */
void upstream_want(struct upstream *u, bool on);
/* Body data into buf (at most max bytes, framing removed): > 0, 0, or
 * UPSTREAM_EOF / UPSTREAM_ERROR. */
ssize_t upstream_read(struct upstream *u, char *buf, size_t max);
/* Body data moved into the pipe pipe_w without copying (at most max
 * bytes): > 0, 0 (nothing now, or the pipe is full), UPSTREAM_EOF,
 * UPSTREAM_ERROR, or UPSTREAM_NEED_FRAME. */
ssize_t upstream_splice(struct upstream *u, int pipe_w, size_t max);
/* Calls the readable callback on the next loop turn even if the socket
 * says nothing (bytes may wait inside TLS, or a read budget ran out). */
void upstream_kick(struct upstream *u);
/* The last read took less than it asked for: the socket is (most likely)
 * empty, another read now would only say so. Never for https, where bytes
 * may wait inside TLS. */
bool upstream_drained(const struct upstream *u);
/* Whether upstream_splice can move bytes (plain HTTP). */
bool upstream_can_splice(const struct upstream *u);
/* Wake the readable callback only once this many bytes are waiting (or the
 * connection ended): fewer, larger reads for a paced stream. 1 = at once. */
void upstream_set_lowat(struct upstream *u, int bytes);
/* What went wrong, after UPSTREAM_ERROR. */
const char *upstream_error(const struct upstream *u);
/* Stops everything and closes the connection. Idempotent. */
void upstream_close(struct upstream *u);

#endif
