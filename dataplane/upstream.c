#include "dataplane/upstream.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

enum {
	UP_IDLE,
	UP_CONNECTING,
	UP_SENDING,
	UP_HEAD,
	UP_HEAD_DONE, /* waiting for the owner to start the body or close */
	UP_BODY,
	UP_CLOSED,
};

void upstream_init(struct upstream *u)
{
	memset(u, 0, sizeof(*u));
	u->fd = -1;
	u->lowat = 1;
}

const char *upstream_error(const struct upstream *u)
{
	return u->error[0] ? u->error : "upstream error";
}

static ssize_t fail_body(struct upstream *u, const char *msg)
{
	snprintf(u->error, sizeof(u->error), "%s", msg);
	return UPSTREAM_ERROR;
}

/* Ends the upstream's own work and tells the owner (who may free u). */
static void fail(struct upstream *u, enum upstream_fail why, const char *msg)
{
	snprintf(u->error, sizeof(u->error), "%s", msg);
	const struct upstream_ops *ops = u->ops;
	void *ud = u->ud;
	upstream_close(u);
	ops->failed(ud, why, msg);
}

static void on_io(struct ev_loop *loop, ev_io *w, int revents);

static void send_request(struct upstream *u)
{
	while (u->req_off < u->req_len) {
		size_t n = 0;
		CURLcode rc =
		        curl_easy_send(u->easy, u->req + u->req_off, u->req_len - u->req_off, &n);
		if (rc == CURLE_AGAIN) {
			ev_io_stop(u->loop, &u->io);
			ev_io_set(&u->io, u->fd, EV_WRITE);
			ev_io_start(u->loop, &u->io);
			return;
		}
		if (rc != CURLE_OK) {
			char msg[120];
			snprintf(msg, sizeof(msg), "sending the playback request failed: %s",
			         curl_easy_strerror(rc));
			fail(u, UPSTREAM_FAIL_CLOSED, msg);
			return;
		}
		u->req_off += n;
	}
	free(u->req);
	u->req = NULL;
	u->state = UP_HEAD;
	ev_io_stop(u->loop, &u->io);
	ev_io_set(&u->io, u->fd, EV_READ);
	ev_io_start(u->loop, &u->io);
}

static void read_head(struct upstream *u)
{
	if (!u->buf) {
		u->buf = malloc(HTTP_HEAD_MAX);
		u->buf_len = 0;
		if (!u->buf) {
			fail(u, UPSTREAM_FAIL_BAD, "out of memory");
			return;
		}
	}
	size_t n = 0;
	CURLcode rc = curl_easy_recv(u->easy, u->buf + u->buf_len, HTTP_HEAD_MAX - u->buf_len, &n);
	if (rc == CURLE_AGAIN)
		return;
	if (rc != CURLE_OK || n == 0) {
		char msg[160];
		snprintf(msg, sizeof(msg), "engine closed the connection before answering%s%s",
		         rc != CURLE_OK ? ": " : "", rc != CURLE_OK ? curl_easy_strerror(rc) : "");
		fail(u, UPSTREAM_FAIL_CLOSED, msg);
		return;
	}
	u->buf_len += n;
	for (;;) {
		struct http_head h;
		const char *err = NULL;
		long hl = http_head_parse(u->buf, u->buf_len, &h, &err);
		if (hl < 0) {
			char msg[120];
			snprintf(msg, sizeof(msg), "engine's playback answer unreadable: %s", err);
			fail(u, UPSTREAM_FAIL_BAD, msg);
			return;
		}
		if (hl == 0)
			return;
		if (h.status < 200) { /* 100 Continue and the like: the real head follows */
			memmove(u->buf, u->buf + hl, u->buf_len - (size_t)hl);
			u->buf_len -= (size_t)hl;
			continue;
		}
		http_body_init(&u->body, &h);
		u->buf_off = (size_t)hl;
		if (u->buf_off == u->buf_len) {
			free(u->buf);
			u->buf = NULL;
		}
		u->state = UP_HEAD_DONE;
		ev_io_stop(u->loop, &u->io);
		u->ops->head(u->ud, &h); /* may close u or free its owner */
		return;
	}
}

static void on_io(struct ev_loop *loop, ev_io *w, int revents)
{
	(void)loop;
	(void)revents;
	struct upstream *u = w->data;
	switch (u->state) {
	case UP_SENDING:
		send_request(u);
		break;
	case UP_HEAD:
		read_head(u);
		break;
	case UP_BODY:
		u->ops->readable(u->ud);
		break;
	default:
		ev_io_stop(u->loop, &u->io);
	}
}

static void on_connected(void *ud, CURL *easy, CURLcode res, int fd)
{
	struct upstream *u = ud;
	if (res != CURLE_OK || fd < 0) {
		u->easy = NULL; /* already out of the multi handle */
		curl_easy_cleanup(easy);
		char msg[160];
		snprintf(msg, sizeof(msg), "cannot connect to the engine: %s",
		         curl_easy_strerror(res));
		fail(u,
		     res == CURLE_OPERATION_TIMEDOUT ? UPSTREAM_FAIL_TIMEOUT
		                                     : UPSTREAM_FAIL_CONNECT,
		     msg);
		return;
	}
	u->fd = fd;
	if (u->lowat > 1)
		setsockopt(fd, SOL_SOCKET, SO_RCVLOWAT, &u->lowat, sizeof(u->lowat));
	ev_io_init(&u->io, on_io, fd, EV_WRITE);
	u->io.data = u;
	u->state = UP_SENDING;
	send_request(u); /* the socket buffer is empty: it goes at once */
}

int upstream_open(struct upstream *u, struct ev_loop *loop, struct curl_ev *ce, const char *url,
                  long connect_timeout_ms, const struct upstream_ops *ops, void *ud, char *err,
                  size_t errlen)
{
	upstream_close(u);
	upstream_init(u);
	u->loop = loop;
	u->ce = ce;
	u->ops = ops;
	u->ud = ud;
	CURLU *cu = curl_url();
	char *scheme = NULL, *host = NULL, *port = NULL, *path = NULL, *query = NULL;
	int rc = -1;
	if (!cu || curl_url_set(cu, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(cu, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
	    curl_url_get(cu, CURLUPART_HOST, &host, 0) != CURLUE_OK) {
		snprintf(err, errlen, "engine gave an invalid playback URL");
		goto free_url_parts;
	}
	if (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0) {
		snprintf(err, errlen, "engine gave a %s playback URL", scheme);
		goto free_url_parts;
	}
	u->tls = strcmp(scheme, "https") == 0;
	curl_url_get(cu, CURLUPART_PORT, &port, 0);
	curl_url_get(cu, CURLUPART_PATH, &path, 0);
	curl_url_get(cu, CURLUPART_QUERY, &query, 0);
	size_t cap = strlen(url) + 256;
	u->req = malloc(cap);
	if (!u->req) {
		snprintf(err, errlen, "out of memory");
		goto free_url_parts;
	}
	int n = snprintf(u->req, cap,
	                 "GET %s%s%s HTTP/1.1\r\nHost: %s%s%s\r\nUser-Agent: acexy/" ACEXY_VERSION
	                 "\r\nAccept: */*\r\nConnection: close\r\n\r\n",
	                 path && path[0] ? path : "/", query ? "?" : "", query ? query : "", host,
	                 port ? ":" : "", port ? port : "");
	if (n < 0 || (size_t)n >= cap) {
		snprintf(err, errlen, "engine gave an overlong playback URL");
		goto free_url_parts;
	}
	u->req_len = (size_t)n;
	CURL *e = curl_easy_init();
	if (!e) {
		snprintf(err, errlen, "out of memory");
		goto free_url_parts;
	}
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, connect_timeout_ms);
	curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
	curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	/* through an HTTP proxy (http_proxy in the environment) the request is
	 * ours, so it needs a CONNECT tunnel, not a proxy-form request */
	curl_easy_setopt(e, CURLOPT_HTTPPROXYTUNNEL, 1L);
	if (curl_ev_add_connect(ce, e, on_connected, u) < 0) {
		curl_easy_cleanup(e);
		snprintf(err, errlen, "cannot start the playback request");
		goto free_url_parts;
	}
	u->easy = e;
	u->state = UP_CONNECTING;
	rc = 0;
free_url_parts:
	curl_free(scheme);
	curl_free(host);
	curl_free(port);
	curl_free(path);
	curl_free(query);
	curl_url_cleanup(cu);
	if (rc < 0) {
		free(u->req);
		u->req = NULL;
	}
	return rc;
}

void upstream_body_start(struct upstream *u)
{
	if (u->state != UP_HEAD_DONE)
		return;
	u->state = UP_BODY;
	ev_io_set(&u->io, u->fd, EV_READ);
	ev_io_start(u->loop, &u->io);
}

void upstream_want(struct upstream *u, bool on)
{
	if (u->state != UP_BODY)
		return;
	if (on) {
		ev_io_start(u->loop, &u->io);
		if (u->tls)
			upstream_kick(u); /* decrypted bytes may wait inside TLS */
	} else {
		ev_io_stop(u->loop, &u->io);
	}
}

void upstream_kick(struct upstream *u)
{
	if (u->state == UP_BODY && ev_is_active(&u->io))
		ev_feed_event(u->loop, &u->io, EV_READ);
}

bool upstream_drained(const struct upstream *u)
{
	return u->drained && !u->tls;
}

bool upstream_can_splice(const struct upstream *u)
{
	return !u->tls;
}

void upstream_set_lowat(struct upstream *u, int bytes)
{
	if (bytes < 1)
		bytes = 1;
	if (u->fd >= 0 && bytes > 1) {
		/* a mark above half the receive buffer would also clamp the TCP
		 * window for good (tcp_set_rcvlowat): stay below it */
		int rcvbuf = 0;
		socklen_t sl = sizeof(rcvbuf);
		if (getsockopt(u->fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, &sl) == 0 && rcvbuf > 1 &&
		    bytes > rcvbuf / 2)
			bytes = rcvbuf / 2;
	}
	if (bytes == u->lowat)
		return;
	u->lowat = bytes;
	if (u->fd >= 0)
		setsockopt(u->fd, SOL_SOCKET, SO_RCVLOWAT, &bytes, sizeof(bytes));
}

/* The connection ended (recv or splice returned 0). */
static ssize_t at_eof(struct upstream *u)
{
	u->eof = true;
	if (http_body_complete_at_eof(&u->body))
		return UPSTREAM_EOF;
	return fail_body(u, u->body.mode == HTTP_BODY_CHUNKED
	                            ? "engine closed the connection inside a chunk"
	                            : "engine closed the connection before the announced length");
}

static ssize_t io_error(struct upstream *u)
{
	char msg[120];
	snprintf(msg, sizeof(msg), "reading the engine's stream failed: %s", strerror(errno));
	return fail_body(u, msg);
}

ssize_t upstream_read(struct upstream *u, char *buf, size_t max)
{
	if (u->state != UP_BODY || max == 0)
		return 0;
	for (;;) {
		if (u->body.done)
			return UPSTREAM_EOF;
		size_t n;
		u->drained = false;
		if (u->buf) { /* bytes that came with the head */
			n = u->buf_len - u->buf_off < max ? u->buf_len - u->buf_off : max;
			memcpy(buf, u->buf + u->buf_off, n);
			u->buf_off += n;
			if (u->buf_off == u->buf_len) {
				free(u->buf);
				u->buf = NULL;
			}
		} else if (u->eof) {
			return at_eof(u);
		} else if (u->tls) {
			n = 0;
			CURLcode rc = curl_easy_recv(u->easy, buf, max, &n);
			if (rc == CURLE_AGAIN)
				return 0;
			if (rc != CURLE_OK) {
				char msg[160];
				snprintf(msg, sizeof(msg), "reading the engine's stream failed: %s",
				         curl_easy_strerror(rc));
				return fail_body(u, msg);
			}
			if (n == 0)
				return at_eof(u);
		} else {
			ssize_t r = recv(u->fd, buf, max, 0);
			if (r == 0)
				return at_eof(u);
			if (r < 0)
				return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR
				               ? 0
				               : io_error(u);
			n = (size_t)r;
			u->drained = n < max;
		}
		size_t data = 0;
		const char *err = NULL;
		if (http_body_decode(&u->body, buf, n, &data, &err) < 0) {
			char msg[120];
			snprintf(msg, sizeof(msg), "engine's stream framing broken: %s", err);
			return fail_body(u, msg);
		}
		if (data > 0)
			return (ssize_t)data;
		/* framing only: read on */
	}
}

ssize_t upstream_splice(struct upstream *u, int pipe_w, size_t max)
{
	if (u->state != UP_BODY || max == 0)
		return 0;
	if (u->buf || u->tls)
		return UPSTREAM_NEED_FRAME;
	if (u->body.done)
		return UPSTREAM_EOF;
	uint64_t raw = http_body_raw_left(&u->body);
	if (raw == 0)
		return UPSTREAM_NEED_FRAME;
	size_t n = raw < max ? (size_t)raw : max;
	ssize_t r = splice(u->fd, NULL, pipe_w, NULL, n, SPLICE_F_NONBLOCK | SPLICE_F_MOVE);
	if (r > 0) {
		http_body_raw_consumed(&u->body, (uint64_t)r);
		/* a short splice may mean a full pipe, not an empty socket */
		u->drained = false;
		return r;
	}
	if (r == 0)
		return at_eof(u);
	if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
		return 0;
	return io_error(u);
}

void upstream_close(struct upstream *u)
{
	if (u->fd >= 0) {
		ev_io_stop(u->loop, &u->io);
		u->fd = -1; /* curl's socket: closed with its handle */
	}
	if (u->easy) {
		curl_ev_remove(u->ce, u->easy);
		curl_easy_cleanup(u->easy);
		u->easy = NULL;
	}
	free(u->req);
	u->req = NULL;
	free(u->buf);
	u->buf = NULL;
	u->state = UP_CLOSED;
}
