/* The controlplane's small HTTP side: /livez, /readyz, /metrics. One
 * request per connection, bounded head, 5 s deadline. */
#include <errno.h>
#include <inttypes.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "acexy/http_request.h"
#include "acexy/log.h"
#include "controlplane/cp.h"
#include "controlplane/cp_peers.h"
#include "controlplane/events.h"
#include "controlplane/fallback.h"
#include "controlplane/orch.h"

#define HEAD_MAX 8192

struct cp_http {
	struct cp *cp;
	int fd;
	ev_io accept_w;
};

struct hconn {
	struct cp *cp;
	int fd;
	ev_io io;
	ev_timer timer;
	struct http_request *req;
	char in[HEAD_MAX];
	size_t len;
	char *out;
	size_t out_len, out_off;
};

static void hconn_close(struct hconn *h)
{
	ev_io_stop(h->cp->loop, &h->io);
	ev_timer_stop(h->cp->loop, &h->timer);
	close(h->fd);
	http_request_free(h->req);
	free(h->out);
	free(h);
}

static void on_write(struct ev_loop *loop, ev_io *io, int revents)
{
	struct hconn *h = io->data;
	while (h->out_off < h->out_len) {
		ssize_t n = send(h->fd, h->out + h->out_off, h->out_len - h->out_off, MSG_NOSIGNAL);
		if (n < 0 && errno == EAGAIN)
			return;
		if (n <= 0)
			break;
		h->out_off += (size_t)n;
	}
	hconn_close(h);
}

static void respond(struct hconn *h, int status, const char *ctype, const char *body, size_t blen)
{
	char head[256];
	int hl = snprintf(head, sizeof(head),
	                  "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
	                  "Connection: close\r\n\r\n",
	                  status,
	                  status == 200   ? "OK"
	                  : status == 404 ? "Not Found"
	                                  : "Error",
	                  ctype, blen);
	h->out = malloc((size_t)hl + blen);
	if (!h->out) {
		hconn_close(h);
		return;
	}
	memcpy(h->out, head, (size_t)hl);
	memcpy(h->out + hl, body, blen);
	h->out_len = (size_t)hl + blen;
	ev_io_stop(h->cp->loop, &h->io);
	ev_io_set(&h->io, h->fd, EV_WRITE);
	h->io.cb = on_write;
	ev_io_start(h->cp->loop, &h->io);
}

static void route(struct hconn *h)
{
	const char *path = http_request_path(h->req);
	struct cp *cp = h->cp;
	if (strcmp(path, "/livez") == 0) {
		respond(h, 200, "text/plain", "ok\n", 3);
	} else if (strcmp(path, "/readyz") == 0) {
		if (cp->ready)
			respond(h, 200, "text/plain", "ready\n", 6);
		else
			respond(h, 503, "text/plain", "not ready\n", 10);
	} else if (strcmp(path, "/metrics") == 0) {
		char *m;
		size_t ml;
		cp_metrics_text(cp, &m, &ml);
		respond(h, 200, "text/plain; version=0.0.4", m ? m : "", m ? ml : 0);
		free(m);
	} else {
		respond(h, 404, "text/plain", "404 Not Found: unknown path\n", 28);
	}
}

static void on_read(struct ev_loop *loop, ev_io *io, int revents)
{
	struct hconn *h = io->data;
	ssize_t n = recv(h->fd, h->in + h->len, sizeof(h->in) - h->len, 0);
	if (n < 0 && errno == EAGAIN)
		return;
	if (n <= 0) {
		hconn_close(h);
		return;
	}
	h->len += (size_t)n;
	size_t used;
	int rc = http_request_feed(h->req, h->in, h->len, &used);
	if (rc == HTTP_REQ_NEED_MORE)
		return;
	if (rc < 0) {
		respond(h, http_request_error_status(h->req), "text/plain", "bad request\n", 12);
		return;
	}
	route(h);
}

static void on_timeout(struct ev_loop *loop, ev_timer *t, int revents)
{
	hconn_close(t->data);
}

static void on_accept(struct ev_loop *loop, ev_io *io, int revents)
{
	struct cp_http *hs = io->data;
	int fd = accept4(hs->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0)
		return;
	struct hconn *h = calloc(1, sizeof(*h));
	if (!h || http_request_new(HEAD_MAX, &h->req) < 0) {
		free(h);
		close(fd);
		return;
	}
	h->cp = hs->cp;
	h->fd = fd;
	ev_io_init(&h->io, on_read, fd, EV_READ);
	h->io.data = h;
	ev_timer_init(&h->timer, on_timeout, 5., 0.);
	h->timer.data = h;
	ev_io_start(loop, &h->io);
	ev_timer_start(loop, &h->timer);
}

int cp_http_start(struct cp *cp)
{
	const struct acexy_addr *a = &cp->cfg->v[ACEXY_S_CP_LISTEN_ADDR].addr;
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE};
	struct addrinfo *res = NULL;
	char port[8];
	snprintf(port, sizeof(port), "%u", a->port);
	hints.ai_family = a->host[0] ? AF_UNSPEC : AF_INET6;
	int rc = getaddrinfo(a->host[0] ? a->host : NULL, port, &hints, &res);
	if (rc != 0 && !a->host[0]) {
		hints.ai_family = AF_INET;
		rc = getaddrinfo(NULL, port, &hints, &res);
	}
	if (rc != 0)
		return -EADDRNOTAVAIL;
	int fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int one = 1, zero = 0;
	if (fd >= 0) {
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (res->ai_family == AF_INET6)
			setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero));
	}
	if (fd < 0 || bind(fd, res->ai_addr, res->ai_addrlen) < 0 || listen(fd, 64) < 0) {
		int e = errno;
		if (fd >= 0)
			close(fd);
		freeaddrinfo(res);
		return -e;
	}
	freeaddrinfo(res);
	struct cp_http *hs = calloc(1, sizeof(*hs));
	if (!hs) {
		close(fd);
		return -ENOMEM;
	}
	hs->cp = cp;
	hs->fd = fd;
	ev_io_init(&hs->accept_w, on_accept, fd, EV_READ);
	hs->accept_w.data = hs;
	ev_io_start(cp->loop, &hs->accept_w);
	cp->http = hs;
	return 0;
}

void cp_http_stop(struct cp *cp)
{
	if (!cp->http)
		return;
	ev_io_stop(cp->loop, &cp->http->accept_w);
	close(cp->http->fd);
	free(cp->http);
	cp->http = NULL;
}

void cp_metrics_text(struct cp *cp, char **ret, size_t *ret_len)
{
	unsigned ndp = 0, nleases = 0;
	for (struct cp_dataplane *d = cp->dataplanes; d; d = d->next)
		ndp++;
	nleases = (unsigned)cp->leases.count;
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	if (!f) {
		*ret = NULL;
		*ret_len = 0;
		return;
	}
	fprintf(f,
	        "# HELP acexy_cp_assignments_total Leases granted.\n"
	        "# TYPE acexy_cp_assignments_total counter\nacexy_cp_assignments_total %" PRIu64
	        "\n"
	        "# HELP acexy_cp_refusals_total Assignments refused.\n"
	        "# TYPE acexy_cp_refusals_total counter\nacexy_cp_refusals_total %" PRIu64 "\n"
	        "# HELP acexy_cp_leases Leases held now.\n"
	        "# TYPE acexy_cp_leases gauge\nacexy_cp_leases %u\n"
	        "# HELP acexy_cp_dataplanes Dataplanes connected.\n"
	        "# TYPE acexy_cp_dataplanes gauge\nacexy_cp_dataplanes %u\n"
	        "# HELP acexy_cp_dataplanes_lost_total Dataplanes declared lost.\n"
	        "# TYPE acexy_cp_dataplanes_lost_total counter\n"
	        "acexy_cp_dataplanes_lost_total %" PRIu64 "\n"
	        "# HELP acexy_cp_bad_messages_total Malformed messages refused.\n"
	        "# TYPE acexy_cp_bad_messages_total counter\nacexy_cp_bad_messages_total %" PRIu64
	        "\n",
	        cp->assignments, cp->refusals, nleases, ndp, cp->dataplanes_lost, cp->bad_messages);
	fprintf(f,
	        "# HELP acexy_cp_hello_refused_total Dataplane hellos refused: wrong or missing "
	        "ACEXY_CONTROL_TOKEN.\n"
	        "# TYPE acexy_cp_hello_refused_total counter\nacexy_cp_hello_refused_total %" PRIu64
	        "\n"
	        "# HELP acexy_cp_hello_refused_dropped_total Refusals beyond the rate limit: the "
	        "connection was closed without an answer.\n"
	        "# TYPE acexy_cp_hello_refused_dropped_total counter\n"
	        "acexy_cp_hello_refused_dropped_total %" PRIu64 "\n"
	        "# HELP acexy_cp_instance_in_use_total Hellos for an instance name another "
	        "connection holds.\n"
	        "# TYPE acexy_cp_instance_in_use_total counter\nacexy_cp_instance_in_use_total "
	        "%" PRIu64 "\n"
	        "# HELP acexy_cp_claims_refused_total Lease ids or URLs a dataplane declared and "
	        "the controlplane did not take.\n"
	        "# TYPE acexy_cp_claims_refused_total counter\nacexy_cp_claims_refused_total "
	        "%" PRIu64 "\n"
	        "# HELP acexy_cp_control_connections Connections on the control socket.\n"
	        "# TYPE acexy_cp_control_connections gauge\nacexy_cp_control_connections %u\n"
	        "# HELP acexy_cp_stalls_total Own stalls (loop stood still >1 s) not counted as "
	        "dataplane silence.\n"
	        "# TYPE acexy_cp_stalls_total counter\nacexy_cp_stalls_total %" PRIu64 "\n"
	        "# HELP acexy_cp_listener_restarts_total Times the control listener paused "
	        "accepting (out of file descriptors).\n"
	        "# TYPE acexy_cp_listener_restarts_total counter\n"
	        "acexy_cp_listener_restarts_total %" PRIu64 "\n"
	        "# HELP acexy_cp_control_peers_dropped_total Connections on the control and admin "
	        "sockets dropped before or instead of a request (no SP header, not REQ, "
	        "oversized, no request id, TLS failed, too slow).\n"
	        "# TYPE acexy_cp_control_peers_dropped_total counter\n"
	        "acexy_cp_control_peers_dropped_total %" PRIu64 "\n",
	        cp->hello_refused, cp->hello_dropped, cp->instance_in_use, cp->claims_refused,
	        cp->peers ? cp_peers_count(cp->peers) : 0, cp->stalls,
	        ipc_server_restarts(cp->control),
	        ipc_server_refused(cp->control) + ipc_server_refused(cp->admin));
	fprintf(f,
	        "# HELP acexy_cp_fallback_engine_healthy 1 when the single (fallback) engine's "
	        "last "
	        "probe succeeded.\n"
	        "# TYPE acexy_cp_fallback_engine_healthy gauge\nacexy_cp_fallback_engine_healthy "
	        "%d\n",
	        fallback_health(cp->fallback) == FB_HEALTHY);
	if (cp->orch) {
		struct orch_counters oc;
		orch_counters(cp->orch, &oc);
		fprintf(f,
		        "# HELP acexy_cp_orchestrator_state Orchestrator state (0 unknown, 1 "
		        "healthy, "
		        "2 degraded, 3 unreachable).\n"
		        "# TYPE acexy_cp_orchestrator_state gauge\nacexy_cp_orchestrator_state %d\n"
		        "# HELP acexy_cp_orchestrator_engines Engines listed by the orchestrator.\n"
		        "# TYPE acexy_cp_orchestrator_engines gauge\nacexy_cp_orchestrator_engines "
		        "%u\n"
		        "# HELP acexy_cp_provisions_total Provisioning calls by outcome.\n"
		        "# TYPE acexy_cp_provisions_total counter\n"
		        "acexy_cp_provisions_total{outcome=\"ok\"} %" PRIu64 "\n"
		        "acexy_cp_provisions_total{outcome=\"failed\"} %" PRIu64 "\n"
		        "# HELP acexy_cp_assign_waiting Assign requests waiting for an engine.\n"
		        "# TYPE acexy_cp_assign_waiting gauge\nacexy_cp_assign_waiting %u\n",
		        (int)oc.state, oc.engines, oc.provisions_ok, oc.provisions_failed,
		        oc.waiting);
		fprintf(f,
		        "# HELP acexy_cp_engines Orchestrator engines by health.\n"
		        "# TYPE acexy_cp_engines gauge\n"
		        "acexy_cp_engines{health=\"healthy\"} %u\n"
		        "acexy_cp_engines{health=\"unknown\"} %u\n"
		        "acexy_cp_engines{health=\"unhealthy\"} %u\n",
		        oc.by_health[0], oc.by_health[1], oc.by_health[2]);
		struct events_counters ec;
		events_counters(cp->events, &ec);
		fprintf(f,
		        "# HELP acexy_cp_events_total Stream events to the orchestrator by "
		        "outcome.\n"
		        "# TYPE acexy_cp_events_total counter\n"
		        "acexy_cp_events_total{outcome=\"delivered\"} %" PRIu64 "\n"
		        "acexy_cp_events_total{outcome=\"skipped_unknown\"} %" PRIu64 "\n"
		        "acexy_cp_events_total{outcome=\"rejected\"} %" PRIu64 "\n"
		        "acexy_cp_events_total{outcome=\"dropped\"} %" PRIu64 "\n"
		        "# HELP acexy_cp_events_pending Stream events waiting for delivery (the "
		        "outbox).\n"
		        "# TYPE acexy_cp_events_pending gauge\nacexy_cp_events_pending %" PRIu64
		        "\n"
		        "# HELP acexy_cp_event_retries_total Delivery attempts that failed.\n"
		        "# TYPE acexy_cp_event_retries_total counter\nacexy_cp_event_retries_total "
		        "%" PRIu64 "\n"
		        "# HELP acexy_cp_spool_bytes Size of the event spool file.\n"
		        "# TYPE acexy_cp_spool_bytes gauge\nacexy_cp_spool_bytes %" PRIu64 "\n"
		        "# HELP acexy_cp_spool_errors_total Spool writes that failed.\n"
		        "# TYPE acexy_cp_spool_errors_total counter\nacexy_cp_spool_errors_total "
		        "%" PRIu64 "\n"
		        "# HELP acexy_cp_events_not_spooled Pending events kept in memory only "
		        "(their spool write failed; retried every second).\n"
		        "# TYPE acexy_cp_events_not_spooled gauge\nacexy_cp_events_not_spooled "
		        "%" PRIu64 "\n",
		        ec.delivered, ec.skipped_unknown, ec.rejected, ec.dropped, ec.pending,
		        ec.retries, ec.spool_bytes, ec.spool_errors, ec.in_memory);
	}
	fclose(f);
	*ret = buf;
	*ret_len = len;
}
