/* Viewer connections: accept, read and parse the request head within the
 * request deadline and size limit, route it, answer small responses with
 * keep-alive, and hand stream and HLS requests to viewer.c and hls.c, whose
 * handlers (struct conn_handlers) then serve the connection. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "acexy/log.h"
#include "dataplane/access.h"
#include "dataplane/conn.h"
#include "dataplane/control.h"
#include "dataplane/playlist.h"
#include "dataplane/probe.h"
#include "dataplane/ui_page.h"

const char *http_status_text(int status)
{
	switch (status) {
	case 200:
		return "OK";
	case 400:
		return "Bad Request";
	case 401:
		return "Unauthorized";
	case 403:
		return "Forbidden";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 408:
		return "Request Timeout";
	case 431:
		return "Request Header Fields Too Large";
	case 500:
		return "Internal Server Error";
	case 501:
		return "Not Implemented";
	case 502:
		return "Bad Gateway";
	case 503:
		return "Service Unavailable";
	case 504:
		return "Gateway Timeout";
	default:
		return "Status";
	}
}

static void conn_unlink(struct conn *c)
{
	struct worker *w = c->w;
	if (c->prev)
		c->prev->next = c->next;
	else
		w->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	c->prev = c->next = NULL;
}

/* ---- connections waiting for a request (issue 22 item 1) ----
 * They hold no viewer seat. When a worker has more of them than its share
 * of ACEXY_MAX_VIEWERS, or runs out of descriptors, the oldest one is closed
 * to seat the newcomer: idle connections cannot lock out viewers nor the
 * health probes, and a real request, sent at once, is never the oldest. */

static void idle_enter(struct conn *c)
{
	struct worker *w = c->w;
	if (c->idle)
		return;
	c->idle = true;
	c->idle_next = NULL;
	c->idle_prev = w->idle_tail;
	if (w->idle_tail)
		w->idle_tail->idle_next = c;
	else
		w->idle_head = c;
	w->idle_tail = c;
	w->nidle++;
	atomic_fetch_add(&w->dp->stats.conns_idle, 1);
}

static void idle_leave(struct conn *c)
{
	struct worker *w = c->w;
	if (!c->idle)
		return;
	if (c->idle_prev)
		c->idle_prev->idle_next = c->idle_next;
	else
		w->idle_head = c->idle_next;
	if (c->idle_next)
		c->idle_next->idle_prev = c->idle_prev;
	else
		w->idle_tail = c->idle_prev;
	c->idle_prev = c->idle_next = NULL;
	c->idle = false;
	w->nidle--;
	atomic_fetch_sub(&w->dp->stats.conns_idle, 1);
}

static unsigned idle_cap(const struct worker *w)
{
	uint64_t share = acexy_cfg_u(w->dp->cfg, ACEXY_S_MAX_VIEWERS) / (uint64_t)w->dp->nworkers;
	return share < 16 ? 16 : share > 1000000 ? 1000000 : (unsigned)share;
}

static bool idle_reclaim(struct worker *w, const char *why)
{
	struct conn *c = w->idle_head;
	if (!c)
		return false;
	uint64_t n = atomic_fetch_add(&w->dp->stats.conns_reclaimed, 1) + 1;
	double now = dp_now();
	if (now - w->reclaim_logged >= 10.0) { /* one line per 10 s, not one per connection */
		w->reclaim_logged = now;
		ALOG(ALOG_WARN, "idle_connection_reclaimed", ALOG_S("why", why),
		     ALOG_S("client", c->peer_ip), ALOG_U("idle", w->nidle), ALOG_U("total", n));
	}
	conn_close(c);
	return true;
}

/* The connection leaves this worker (closed, or handed to another one):
 * watchers, buffers and the struct go; the socket is the caller's. */
static void conn_forget(struct conn *c)
{
	struct worker *w = c->w;
	idle_leave(c);
	ev_io_stop(w->loop, &c->rio);
	ev_io_stop(w->loop, &c->wio);
	ev_timer_stop(w->loop, &c->req_timer);
	conn_unlink(c);
	http_request_free(c->req);
	free(c->in);
	free(c->out);
	free(c);
	atomic_fetch_sub(&w->nconns, 1);
	if (w->stopping && atomic_load(&w->nconns) == 0)
		ev_async_send(w->loop, &w->wake); /* let the worker finish */
}

void conn_close(struct conn *c)
{
	if (c->state == C_CLOSED)
		return;
	struct worker *w = c->w;
	if (c->handlers && c->handlers->on_close)
		c->handlers->on_close(c);
	access_release(c);
	c->state = C_CLOSED;
	close(c->fd);
	atomic_fetch_sub(&w->dp->stats.conns_open, 1);
	conn_forget(c);
}

void conn_attach(struct conn *c, const struct conn_handlers *h, void *data)
{
	c->handlers = h;
	c->handler_data = data;
	c->state = C_STREAM;
}

void conn_detach(struct conn *c)
{
	c->handlers = NULL;
	c->handler_data = NULL;
}

bool conn_peer_left(struct conn *c)
{
	char scratch[4096];
	bool keep = c->in_len < c->in_cap;
	ssize_t n = keep ? recv(c->fd, c->in + c->in_len, c->in_cap - c->in_len, 0)
	                 : recv(c->fd, scratch, sizeof(scratch), 0);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return false;
	if (n <= 0)
		return true;
	if (keep) {
		c->in_len += (size_t)n; /* the next request(s), answered after this one */
	} else {
		c->in_lost = true; /* never silently: this answer closes the connection */
		c->close_after = true;
	}
	return false;
}

static void conn_count_status(struct conn *c, int status)
{
	int cls = status / 100;
	if (cls >= 1 && cls <= 5)
		atomic_fetch_add(&c->w->dp->stats.status[cls], 1);
}

static void conn_try_write(struct conn *c);
static void conn_process(struct conn *c);

static void conn_response_done(struct conn *c)
{
	free(c->out);
	c->out = NULL;
	c->out_len = c->out_off = 0;
	if (c->close_after) {
		conn_close(c);
		return;
	}
	access_give_viewer(c); /* the request is answered */
	/* keep-alive: next request, with pipelined bytes already buffered */
	c->state = C_READING;
	idle_enter(c);
	http_request_reset(c->req);
	ev_timer_stop(c->w->loop, &c->req_timer);
	ev_timer_set(&c->req_timer,
	             (double)acexy_cfg_u(c->w->dp->cfg, ACEXY_S_REQUEST_TIMEOUT) / 1000.0, 0.);
	ev_timer_start(c->w->loop, &c->req_timer);
	ev_io_start(c->w->loop, &c->rio);
	if (c->in_len > 0)
		conn_process(c);
}

static void conn_try_write(struct conn *c)
{
	while (c->out_off < c->out_len) {
		ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			ev_io_start(c->w->loop, &c->wio);
			return;
		}
		if (n <= 0) {
			conn_close(c);
			return;
		}
		c->out_off += (size_t)n;
	}
	ev_io_stop(c->w->loop, &c->wio);
	conn_response_done(c);
}

void conn_respond(struct conn *c, int status, const char *content_type, const char *extra_headers,
                  const char *body, size_t body_len)
{
	char head[1024];
	bool draining = atomic_load(&c->w->dp->draining);
	if (draining || c->in_lost)
		c->close_after = true;
	idle_leave(c);
	int hl = snprintf(head, sizeof(head),
	                  "HTTP/1.1 %d %s\r\n"
	                  "Server: acexy/" ACEXY_VERSION "\r\n"
	                  "Content-Type: %s\r\n"
	                  "Content-Length: %zu\r\n"
	                  "Cache-Control: no-store\r\n"
	                  "%s"
	                  "Connection: %s\r\n\r\n",
	                  status, http_status_text(status), content_type, body_len,
	                  extra_headers ? extra_headers : "",
	                  c->close_after ? "close" : "keep-alive");
	if (hl < 0 || (size_t)hl >= sizeof(head)) {
		conn_close(c);
		return;
	}
	size_t send_body = c->head ? 0 : body_len;
	free(c->out);
	c->out = malloc((size_t)hl + send_body);
	if (!c->out) {
		conn_close(c);
		return;
	}
	memcpy(c->out, head, (size_t)hl);
	if (send_body)
		memcpy(c->out + hl, body, send_body);
	c->out_len = (size_t)hl + send_body;
	c->out_off = 0;
	c->state = C_RESPONDING;
	conn_count_status(c, status);
	ev_io_stop(c->w->loop, &c->rio);
	ev_timer_stop(c->w->loop, &c->req_timer);
	conn_try_write(c);
}

void conn_respond_error(struct conn *c, int status, const char *reason, unsigned retry_after)
{
	char body[600], extra[64] = "";
	int n = snprintf(body, sizeof(body), "%d %s: %s\n", status, http_status_text(status),
	                 reason);
	if (n < 0)
		n = 0;
	if ((size_t)n >= sizeof(body))
		n = sizeof(body) - 1;
	if (status == 503)
		snprintf(extra, sizeof(extra), "Retry-After: %u\r\n",
		         retry_after ? retry_after : 5);
	else if (status == 405)
		snprintf(extra, sizeof(extra), "Allow: GET, HEAD\r\n");
	if (status >= 500 || status == 408 || status == 431 || status == 400)
		c->close_after = c->close_after || status != 404;
	ALOG(status >= 500 ? ALOG_WARN : ALOG_INFO, "request_refused", ALOG_I("status", status),
	     ALOG_S("reason", reason), ALOG_S("client", c->peer_ip));
	conn_respond(c, status, "text/plain; charset=utf-8", extra, body, (size_t)n);
}

static void route(struct conn *c, const struct http_request *req)
{
	const char *path = http_request_path(req);
	bool is_get = http_request_method(req) == HTTP_REQ_GET;
	bool is_head = http_request_method(req) == HTTP_REQ_HEAD;
	c->head = is_head;
	if (!http_request_keep_alive(req))
		c->close_after = true;
	atomic_fetch_add(&c->w->dp->stats.requests, 1);

	if (!is_get && !is_head) {
		c->close_after = true;
		conn_respond_error(c, 405, "only GET and HEAD are served", 0);
		return;
	}
	if (access_check(c, req, path) < 0)
		return;
	if (strcmp(path, "/ace/getstream") == 0) {
		if (acexy_cfg_b(c->w->dp->cfg, ACEXY_S_M3U8))
			hls_begin(c, http_request_query(req));
		else
			stream_begin(c, http_request_query(req));
		return;
	}
	if (strcmp(path, "/ace/manifest.m3u8") == 0) {
		hls_begin(c, http_request_query(req));
		return;
	}
	if (strncmp(path, "/ace/hls/", 9) == 0) {
		hls_resource(c, path);
		return;
	}
	if (strcmp(path, "/livez") == 0) {
		conn_respond(c, 200, "text/plain", NULL, "ok\n", 3);
		return;
	}
	if (strcmp(path, "/readyz") == 0) {
		struct dp *dp = c->w->dp;
		if (atomic_load(&dp->draining)) {
			conn_respond(c, 503, "text/plain", NULL, "draining\n", 9);
		} else if (!dp_control_connected(dp)) {
			conn_respond(c, 503, "text/plain", NULL, "no controlplane\n", 16);
		} else {
			conn_respond(c, 200, "text/plain", NULL, "ready\n", 6);
		}
		return;
	}
	if (strcmp(path, "/ace/") == 0 || strcmp(path, "/ace/ui") == 0) {
		ui_page_serve(c);
		return;
	}
	if (strcmp(path, "/ace/probe") == 0) {
		probe_begin(c, http_request_query(req));
		return;
	}
	if (strcmp(path, "/ace/playlist.m3u") == 0) {
		playlist_serve(c, req);
		return;
	}
	if (strcmp(path, "/ace/status") == 0) {
		serve_status(c);
		return;
	}
	if (strcmp(path, "/metrics") == 0) {
		serve_metrics(c);
		return;
	}
	conn_respond_error(c, 404, "unknown path", 0);
}

static void conn_process(struct conn *c)
{
	size_t consumed = 0;
	int rc = http_request_feed(c->req, c->in, c->in_len, &consumed);
	if (rc == HTTP_REQ_NEED_MORE)
		return;
	if (rc < 0) {
		int status = http_request_error_status(c->req);
		c->close_after = true;
		conn_respond_error(c, status, http_request_error_reason(c->req), 0);
		return;
	}
	/* keep pipelined bytes for the next request */
	memmove(c->in, c->in + consumed, c->in_len - consumed);
	c->in_len -= consumed;
	ev_timer_stop(c->w->loop, &c->req_timer);
	idle_leave(c);
	route(c, c->req);
}

static void on_read(struct ev_loop *loop, ev_io *io, int revents)
{
	struct conn *c = io->data;
	if (c->handlers) {
		c->handlers->on_readable(c);
		return;
	}
	if (c->in_len == c->in_cap) {
		c->close_after = true;
		conn_respond_error(c, 431, "request headers too large", 0);
		return;
	}
	ssize_t n = recv(c->fd, c->in + c->in_len, c->in_cap - c->in_len, 0);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		conn_close(c);
		return;
	}
	c->in_len += (size_t)n;
	if (c->state == C_READING)
		conn_process(c);
}

static void on_write(struct ev_loop *loop, ev_io *io, int revents)
{
	struct conn *c = io->data;
	if (!c->handlers)
		conn_try_write(c);
	else if (c->handlers->on_writable)
		c->handlers->on_writable(c);
	else
		ev_io_stop(loop, &c->wio);
}

static void on_req_timeout(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct conn *c = t->data;
	if (c->state != C_READING)
		return;
	if (c->in_len == 0) {
		conn_close(c); /* idle keep-alive connection: just close */
		return;
	}
	c->close_after = true;
	conn_respond_error(c, 408, "request not received in time", 0);
}

/* A connection on worker w for an accepted (or handed over) socket. */
static struct conn *conn_new(struct worker *w, int fd, const struct sockaddr_storage *ss)
{
	struct dp *dp = w->dp;
	struct ev_loop *loop = w->loop;
	struct conn *c = calloc(1, sizeof(*c));
	size_t cap = acexy_cfg_u(dp->cfg, ACEXY_S_MAX_HEADER_BYTES);
	if (!c || http_request_new(cap, &c->req) < 0 || !(c->in = malloc(cap))) {
		if (c)
			http_request_free(c->req);
		free(c);
		return NULL;
	}
	c->in_cap = cap;
	c->w = w;
	c->fd = fd;
	c->peer = *ss;
	if (ss->ss_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)ss)->sin_addr, c->peer_ip,
		          sizeof(c->peer_ip));
	else if (ss->ss_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)ss)->sin6_addr, c->peer_ip,
		          sizeof(c->peer_ip));
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	ev_io_init(&c->rio, on_read, fd, EV_READ);
	c->rio.data = c;
	ev_io_init(&c->wio, on_write, fd, EV_WRITE);
	c->wio.data = c;
	ev_timer_init(&c->req_timer, on_req_timeout,
	              (double)acexy_cfg_u(dp->cfg, ACEXY_S_REQUEST_TIMEOUT) / 1000.0, 0.);
	c->req_timer.data = c;
	ev_io_start(loop, &c->rio);
	ev_timer_start(loop, &c->req_timer);
	c->next = w->conns;
	if (w->conns)
		w->conns->prev = c;
	w->conns = c;
	atomic_fetch_add(&w->nconns, 1);
	idle_enter(c);
	return c;
}

/* A handoff nobody will carry on: the socket closes, the counts go. */
static void handoff_drop(struct dp *dp, struct conn_handoff *h)
{
	if (h->ip_counted) {
		struct conn tmp = {.ip_counted = true};
		memcpy(tmp.client_ip, h->client_ip, sizeof(tmp.client_ip));
		access_release(&tmp);
	}
	if (h->viewer_slot)
		atomic_fetch_sub(&dp->stats.viewer_slots, 1);
	close(h->fd);
	atomic_fetch_sub(&dp->stats.conns_open, 1);
	free(h);
}

void conn_handoff(struct conn *c, struct worker *to, enum handoff_kind kind, const char *query)
{
	size_t ql = strlen(query);
	struct conn_handoff *h = malloc(sizeof(*h) + ql + 1 + c->in_len);
	if (!h) {
		conn_respond_error(c, 503, "out of memory", 5);
		return;
	}
	h->kind = kind;
	h->fd = c->fd;
	h->peer = c->peer;
	h->close_after = c->close_after || c->in_lost;
	h->head = c->head; /* a HEAD stays a HEAD on the other loop */
	h->ip_counted = c->ip_counted;
	h->viewer_slot = c->viewer_slot;
	memcpy(h->client_ip, c->client_ip, sizeof(h->client_ip));
	c->ip_counted = false;
	c->viewer_slot = false;
	memcpy(h->query, query, ql + 1);
	/* pipelined requests travel too, to be answered in order over there */
	h->in_len = c->in_len;
	memcpy(h->query + ql + 1, c->in, c->in_len);
	struct dp *dp = c->w->dp;
	conn_forget(c); /* the socket goes with the handoff */
	atomic_fetch_add(&dp->stats.handoffs, 1);
	struct worker_cmd cmd = {.type = WCMD_ADOPT, .handoff = h};
	if (!worker_post(to, &cmd))
		handoff_drop(dp, h);
}

void conn_adopt(struct worker *w, struct conn_handoff *h)
{
	struct conn *c = w->stopping ? NULL : conn_new(w, h->fd, &h->peer);
	if (!c) {
		handoff_drop(w->dp, h);
		return;
	}
	ev_timer_stop(w->loop, &c->req_timer);
	idle_leave(c); /* its request is in hand */
	c->close_after = h->close_after;
	c->head = h->head;
	c->ip_counted = h->ip_counted;
	c->viewer_slot = h->viewer_slot;
	memcpy(c->client_ip, h->client_ip, sizeof(c->client_ip));
	size_t keep = h->in_len < c->in_cap ? h->in_len : c->in_cap;
	memcpy(c->in, h->query + strlen(h->query) + 1, keep);
	c->in_len = keep;
	if (h->kind == HANDOFF_HLS)
		hls_begin(c, h->query);
	else if (h->kind == HANDOFF_HLS_RESOURCE)
		hls_resource(c, h->query);
	else if (h->kind == HANDOFF_PROBE || h->kind == HANDOFF_PROBE_HLS)
		probe_adopt(c, h->query, h->kind == HANDOFF_PROBE_HLS);
	else
		stream_begin(c, h->query);
	free(h);
}

void conn_accept_cb(struct ev_loop *loop, ev_io *io, int revents)
{
	struct worker *w = io->data;
	struct dp *dp = w->dp;
	for (int i = 0; i < 64; i++) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		int fd = accept4(w->listen_fd, (struct sockaddr *)&ss, &sl,
		                 SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if ((errno == EMFILE || errno == ENFILE) &&
			    idle_reclaim(w, "out of file descriptors"))
				continue; /* a descriptor is free again */
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS ||
			    errno == ENOMEM) {
				/* out of descriptors: pause accepting instead of spinning */
				ALOG(ALOG_ERROR, "accept_paused", ALOG_S("error", strerror(errno)));
				ev_io_stop(loop, &w->accept_w);
				ev_timer_set(&w->accept_pause, 0.1, 0.);
				ev_timer_start(loop, &w->accept_pause);
			}
			return;
		}
		if (w->nidle >= idle_cap(w))
			idle_reclaim(w, "more idle connections than this worker's share of "
			                "ACEXY_MAX_VIEWERS");
		uint64_t max_viewers = acexy_cfg_u(dp->cfg, ACEXY_S_MAX_VIEWERS);
		if (atomic_load(&dp->stats.conns_open) >= 2 * max_viewers + 64) {
			/* viewers and idle ones are capped apart: this many means
			 * requests in flight beyond both; refuse without parsing */
			static const char msg[] =
			        "HTTP/1.1 503 Service Unavailable\r\nRetry-After: "
			        "5\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
			ssize_t wr = send(fd, msg, sizeof(msg) - 1, MSG_NOSIGNAL);
			(void)wr;
			close(fd);
			continue;
		}
		struct conn *c = conn_new(w, fd, &ss);
		if (!c) {
			close(fd);
			continue;
		}
		atomic_fetch_add(&dp->stats.conns_accepted, 1);
		atomic_fetch_add(&dp->stats.conns_open, 1);
		access_admit(c); /* ACEXY_MAX_CONNS_PER_IP from the first byte */
	}
}

void worker_close_all(struct worker *w, enum dp_end_reason reason)
{
	worker_end_streams(w, reason);
	struct conn *c = w->conns;
	while (c) {
		struct conn *next = c->next;
		if (!c->handlers && (c->state == C_READING || c->state == C_RESPONDING))
			conn_close(c);
		c = next;
	}
}
