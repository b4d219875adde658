/* The server side of the daemons' nng sockets: contexts answering requests
 * on the loop, connection events, and the listener watchdog. */
#include "acexy/ipc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/protocol/reqrep0/req.h>
#include <nng/supplemental/tls/tls.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "acexy/fsutil.h"
#include "acexy/log.h"
#include "acexy/proto.h"
#include "ipc_int.h"

/* ---- server ---- */

/* A server context. Its receive aio has a callback (req_cb, on an nng
 * thread, handing the request to the loop through the mailbox); its send aio
 * has none: a reply is written by the loop's own thread inside
 * nng_ctx_send, and the context waits for its next request at once, without
 * a completion handed to nng's task threads and back (one thread hop less
 * per request). A reply queued behind another on the same connection
 * completes later; the loop looks at those after a millisecond, then less
 * and less often while none completes (send_poll: at most 10 times a second
 * for a peer that does not read its replies). */
struct ipc_req {
	struct ipc_server *srv;
	nng_ctx ctx;
	nng_aio *aio;  /* receive */
	nng_aio *saio; /* send, no callback */
	nng_msg *msg;
	enum { RQ_RECV, RQ_HANDLING, RQ_SEND } state;
};

struct ipc_server {
	struct ev_loop *loop;
	nng_socket sock;
	nng_listener listener;
	struct ipc_mailbox *mb;
	ipc_request_fn cb;
	void *ud;
	int nctx;
	struct ipc_req *reqs;
	bool owner_only;
	uid_t uid;
	bool closing;
	/* connection events, handed to the loop in order */
	ipc_pipe_fn on_pipe;
	pthread_mutex_t pmu;
	struct pipe_ev {
		uint32_t pipe;
		bool added;
	} * pevs;
	size_t npevs, cappevs;
	/* the listener watchdog (see listener_watch) */
	char url[300];
	nng_tls_config *tls; /* held for restarts; NULL unless tls+tcp:// */
	ev_timer watch;
	ev_timer send_poll; /* runs while a reply waits behind another */
	int sending;        /* contexts in RQ_SEND */
	uint64_t stops_seen;
	uint64_t restarts;
	_Atomic uint64_t adds; /* connections accepted (a live listener) */
	bool probing;          /* a connection of our own is on its way */
	uint64_t probe_adds, probe_done;
	nng_socket probe;
	char tls_cert[300], tls_key[300], tls_ca[300];
};

uint32_t ipc_req_pipe(const struct ipc_req *rq)
{
	return rq->msg ? (uint32_t)nng_pipe_id(nng_msg_get_pipe(rq->msg)) : 0;
}

bool ipc_pipe_addr(uint32_t pipe, char *buf, size_t cap)
{
	nng_pipe p = {.id = pipe};
	nng_sockaddr sa;
	buf[0] = '\0';
	if (nng_pipe_get_addr(p, NNG_OPT_REMADDR, &sa) != 0)
		return false;
	if (sa.s_family == NNG_AF_INET) {
		const uint8_t *a = (const uint8_t *)&sa.s_in.sa_addr;
		const uint8_t *pt = (const uint8_t *)&sa.s_in.sa_port;
		snprintf(buf, cap, "%u.%u.%u.%u:%u", a[0], a[1], a[2], a[3],
		         (unsigned)pt[0] << 8 | pt[1]);
	} else if (sa.s_family == NNG_AF_INET6) {
		char h[INET6_ADDRSTRLEN];
		const uint8_t *pt = (const uint8_t *)&sa.s_in6.sa_port;
		if (!inet_ntop(AF_INET6, sa.s_in6.sa_addr, h, sizeof(h)))
			snprintf(h, sizeof(h), "?");
		snprintf(buf, cap, "[%s]:%u", h, (unsigned)pt[0] << 8 | pt[1]);
	} else {
		snprintf(buf, cap, "ipc");
	}
	return true;
}

void ipc_pipe_close(uint32_t pipe)
{
	nng_pipe p = {.id = pipe};
	nng_pipe_close(p);
}

static void pipe_events_drain(void *arg)
{
	struct ipc_server *s = arg;
	/* take the whole queue at once: linear however many came */
	pthread_mutex_lock(&s->pmu);
	struct pipe_ev *evs = s->pevs;
	size_t n = s->npevs;
	s->pevs = NULL;
	s->npevs = s->cappevs = 0;
	pthread_mutex_unlock(&s->pmu);
	for (size_t i = 0; i < n && !s->closing; i++)
		s->on_pipe(s->ud, evs[i].pipe, evs[i].added);
	free(evs);
}

static void req_deliver(void *arg)
{
	struct ipc_req *rq = arg;
	struct ipc_server *s = rq->srv;
	if (s->closing) {
		nng_msg_free(rq->msg);
		rq->msg = NULL;
		return;
	}
	rq->state = RQ_HANDLING;
	s->cb(s->ud, rq, nng_msg_body(rq->msg), nng_msg_len(rq->msg));
}

static void req_cb(void *arg)
{
	struct ipc_req *rq = arg;
	int rv = nng_aio_result(rq->aio);
	if (rv == NNG_ECLOSED || rv == NNG_ECANCELED)
		return;
	if (rv != 0) {
		nng_ctx_recv(rq->ctx, rq->aio);
		return;
	}
	rq->msg = nng_aio_get_msg(rq->aio);
	ipc_mailbox_post(rq->srv->mb, req_deliver, rq);
}

/* Whether the reply on rq->saio is done (sent, or failed: then freed). A
 * successful send takes the message out of the aio; a failed one leaves it
 * with a non-zero result; a message still there with result 0 is queued
 * behind another reply on its connection (rep0 sends one at a time per
 * connection). nng_aio_wait then only covers the last steps of a completion
 * another thread may still be in. */
static bool send_done(struct ipc_req *rq)
{
	nng_msg *m = nng_aio_get_msg(rq->saio);
	if (m && nng_aio_result(rq->saio) == 0)
		return false;
	nng_aio_wait(rq->saio);
	if (m) {
		nng_aio_set_msg(rq->saio, NULL);
		nng_msg_free(m);
	}
	return true;
}

static void send_poll_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct ipc_server *s = t->data;
	(void)revents;
	bool progress = false;
	for (int i = 0; i < s->nctx && s->sending > 0; i++) {
		struct ipc_req *rq = &s->reqs[i];
		if (rq->state != RQ_SEND || !send_done(rq))
			continue;
		s->sending--;
		progress = true;
		rq->state = RQ_RECV;
		nng_ctx_recv(rq->ctx, rq->aio);
	}
	if (s->sending == 0) {
		ev_timer_stop(loop, t);
		return;
	}
	/* the replies still queued wait for a peer that reads slowly */
	t->repeat = progress ? 0.001 : (t->repeat * 2 < 0.1 ? t->repeat * 2 : 0.1);
	ev_timer_again(loop, t);
}

void ipc_reply(struct ipc_req *rq, const void *buf, size_t len)
{
	struct ipc_server *s = rq->srv;
	nng_msg *m = rq->msg;
	rq->msg = NULL;
	nng_msg_clear(m);
	if (nng_msg_append(m, buf, len) != 0) {
		nng_msg_free(m);
		rq->state = RQ_RECV;
		nng_ctx_recv(rq->ctx, rq->aio);
		return;
	}
	nng_aio_set_msg(rq->saio, m);
	nng_ctx_send(rq->ctx, rq->saio);
	if (!send_done(rq)) {
		rq->state = RQ_SEND;
		if (s->sending++ == 0) {
			s->send_poll.repeat = 0.001;
			ev_timer_again(s->loop, &s->send_poll);
		}
		return;
	}
	rq->state = RQ_RECV;
	nng_ctx_recv(rq->ctx, rq->aio);
}

void ipc_reply_msg(struct ipc_req *req, enum proto_type type, uint64_t id, const void *body)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	if (proto_encode(type, id, body, &buf, &len) < 0) {
		struct proto_error e = {.code = "internal", .message = "reply too large"};
		if (proto_encode_error(id, &e, &buf, &len) < 0) {
			buf = NULL;
			len = 0;
		}
	}
	ipc_reply(req, buf, len);
	free(buf);
}

void ipc_reply_error(struct ipc_req *req, uint64_t id, const char *code, const char *message)
{
	struct proto_error e = {.code = code, .message = message};
	ipc_reply_msg(req, PROTO_ERROR, id, &e);
}

bool ipc_admin_serve(struct ipc_req *req, const uint8_t *buf, size_t len,
                     const ipc_admin_fn handlers[PROTO_ADMIN_COUNT_], void *ctx,
                     const char *elsewhere, char *err, size_t errcap)
{
	struct proto_msg m;
	int rc = proto_decode(buf, len, PROTO_CTL_TO_DAEMON, &m, err, errcap);
	if (rc < 0) {
		ipc_reply_error(req, m.id, "malformed", err);
		proto_msg_clear(&m);
		return false;
	}
	int c = proto_admin_lookup(m.admin.command);
	json_t *res = NULL;
	char why[256] = "";
	if (c < 0)
		snprintf(why, sizeof(why), "unknown command '%s'", m.admin.command);
	else if (!handlers[c])
		snprintf(why, sizeof(why), "'%s' is answered by %s", m.admin.command, elsewhere);
	else
		res = handlers[c](ctx, &m.admin, why, sizeof(why));
	if (res) {
		struct proto_admin_reply r = {.result = res};
		ipc_reply_msg(req, PROTO_ADMIN_REPLY, m.id, &r);
		json_decref(res);
	} else {
		ipc_reply_error(req, m.id, "failed", why[0] ? why : "failed");
	}
	proto_msg_clear(&m);
	return true;
}

static void pipe_cb(nng_pipe p, nng_pipe_ev ev, void *arg)
{
	struct ipc_server *s = arg;
	uint64_t uid = (uint64_t)-1;
	if (ev == NNG_PIPE_EV_ADD_PRE) {
		if (s->owner_only && (nng_pipe_get_uint64(p, NNG_OPT_IPC_PEER_UID, &uid) != 0 ||
		                      (uid != 0 && uid != (uint64_t)s->uid)))
			nng_pipe_close(p);
		return;
	}
	if (ev == NNG_PIPE_EV_ADD_POST)
		atomic_fetch_add(&s->adds, 1);
	if (!s->on_pipe)
		return;
	pthread_mutex_lock(&s->pmu);
	if (s->npevs == s->cappevs) {
		size_t cap = s->cappevs ? s->cappevs * 2 : 16;
		struct pipe_ev *n = realloc(s->pevs, cap * sizeof(*n));
		if (!n) {
			pthread_mutex_unlock(&s->pmu);
			return;
		}
		s->pevs = n;
		s->cappevs = cap;
	}
	s->pevs[s->npevs++] = (struct pipe_ev){.pipe = (uint32_t)nng_pipe_id(p),
	                                       .added = ev == NNG_PIPE_EV_ADD_POST};
	pthread_mutex_unlock(&s->pmu);
	ipc_mailbox_post(s->mb, pipe_events_drain, s);
}

static int listener_start(struct ipc_server *s, char *err, size_t errcap)
{
	const char *url = s->url;
	int rv = nng_listener_create(&s->listener, s->sock, url);
	if (rv != 0) {
		snprintf(err, errcap, "cannot listen on %s: %s", url, nng_strerror(rv));
		return -EINVAL;
	}
	if (ipc_url_is_ipc(url)) {
		/* must be set before start (nng 1.5.2) */
		nng_listener_set_int(s->listener, NNG_OPT_IPC_PERMISSIONS, 0660);
	} else {
		nng_listener_set_bool(s->listener, NNG_OPT_TCP_NODELAY, true);
		nng_listener_set_bool(s->listener, NNG_OPT_TCP_KEEPALIVE, true);
	}
	if (s->tls && (rv = nng_listener_set_ptr(s->listener, NNG_OPT_TLS_CONFIG, s->tls)) != 0) {
		snprintf(err, errcap, "cannot use TLS on %s: %s", url, nng_strerror(rv));
		nng_listener_close(s->listener);
		return -EINVAL;
	}
	rv = nng_listener_start(s->listener, 0);
	if (rv != 0) {
		snprintf(err, errcap, "cannot listen on %s: %s", url, nng_strerror(rv));
		nng_listener_close(s->listener);
		return rv == NNG_EADDRINUSE ? -EADDRINUSE : rv == NNG_EPERM ? -EACCES : -EIO;
	}
	s->stops_seen = 0;
	return 0;
}

/* The listener watchdog. libnng 1.5.2 stops accepting for good when one
 * connection's SP header exchange fails with NNG_ECLOSED or NNG_ECANCELED
 * (core/listener.c: "no further action"): writing our header to a peer that
 * already hung up gives EPIPE, which nng maps to NNG_ECLOSED. A peer that
 * gives up on a connection while we are slow to accept (a paused or busy
 * process, a dataplane killed or redialing at that moment) thus left the
 * listener deaf: every later connection waited in the backlog until the
 * dialer's 10 s negotiation timeout, forever. The listener counts those
 * failures in its "other"/"canceled" statistics; when they grow, it is
 * replaced (same URL, same options), which takes a few milliseconds. */
static uint64_t stat_sum(nng_stat *ls, const char *const *names)
{
	uint64_t n = 0;
	for (; *names; names++) {
		nng_stat *st = nng_stat_find(ls, *names);
		n += st ? nng_stat_value(st) : 0;
	}
	return n;
}

/* *stops: the errors that may have stopped it; *done: connections it
 * finished with and went on accepting after (accepted, or turned away: a
 * peer that failed the TLS handshake or the SP header) */
static void listener_counts(nng_listener l, uint64_t *stops, uint64_t *done)
{
	static const char *const stop[] = {"other", "canceled", NULL};
	static const char *const went_on[] = {"accept", "disconnect", "timeout", "proto",
	                                      "auth",   "reject",     NULL};
	nng_stat *all = NULL;
	*stops = *done = 0;
	if (nng_stats_get(&all) != 0)
		return;
	nng_stat *ls = nng_stat_find_listener(all, l);
	if (ls) {
		*stops = stat_sum(ls, stop);
		*done = stat_sum(ls, went_on);
	}
	nng_stats_free(all);
}

/* Dials our own listener: nng does not say whether it still accepts,
 * errors in its statistics may be ones it got over by itself (a peer that
 * hung up before sending its header is one). Over TLS it presents our own
 * certificate, which need not be good as a client's (deploy's certificates
 * have one purpose each, and DNS names only): the listener turning it away
 * proves as well that it accepts. It does not check the listener's
 * certificate (it sends nothing), so that it never hangs up mid-handshake,
 * and it dials once (no redial to close mid-handshake). */
static int probe_open(struct ipc_server *s)
{
	char url[320], err[300];
	const char *p = strstr(s->url, "://");
	/* "tcp://:7000" listens everywhere; dial it at the loopback */
	if (p && p[3] == ':')
		snprintf(url, sizeof(url), "%.*s127.0.0.1%s", (int)(p + 3 - s->url), s->url, p + 3);
	else
		snprintf(url, sizeof(url), "%s", s->url);
	struct ipc_tls tls = {.cert = s->tls_cert, .key = s->tls_key, .ca = s->tls_ca};
	return ipc_client_dial(url, -1, &tls, true, &s->probe, err, sizeof(err));
}

static void listener_restart(struct ipc_server *s)
{
	char err[300];
	nng_listener_close(s->listener);
	if (listener_start(s, err, sizeof(err)) == 0) {
		s->restarts++;
		ALOG(ALOG_WARN, "listener_restarted", ALOG_S("url", s->url),
		     ALOG_S("why", "libnng stopped accepting after a peer hung up mid-handshake"));
	} else {
		s->stops_seen = (uint64_t)-1; /* try again next time */
		ALOG(ALOG_ERROR, "listener_restart_failed", ALOG_S("url", s->url),
		     ALOG_S("error", err));
	}
}

static void listener_watch(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct ipc_server *s = t->data;
	(void)loop;
	(void)revents;
	uint64_t stops, done;
	listener_counts(s->listener, &stops, &done);
	if (s->probing) {
		/* any connection accepted or turned away since the probe began
		 * proves it; a replacement would close every connection */
		bool alive = atomic_load(&s->adds) > s->probe_adds || done > s->probe_done;
		nng_close(s->probe);
		s->probing = false;
		if (alive)
			s->stops_seen = stops;
		else
			listener_restart(s);
		return;
	}
	if (stops == s->stops_seen)
		return;
	s->probe_adds = atomic_load(&s->adds);
	s->probe_done = done;
	if (probe_open(s) == 0)
		s->probing = true;
	else
		listener_restart(s);
}

uint64_t ipc_server_restarts(const struct ipc_server *s)
{
	return s ? s->restarts : 0;
}

int ipc_server_open(struct ev_loop *loop, const char *url, int nctx, bool owner_only,
                    ipc_request_fn cb, void *ud, struct ipc_server **ret)
{
	char err[200];
	return ipc_server_open_tls(loop, url, nctx, owner_only, NULL, cb, NULL, ud, ret, err,
	                           sizeof(err));
}

int ipc_server_open_tls(struct ev_loop *loop, const char *url, int nctx, bool owner_only,
                        const struct ipc_tls *tls, ipc_request_fn cb, ipc_pipe_fn on_pipe, void *ud,
                        struct ipc_server **ret, char *err, size_t errcap)
{
	struct ipc_server *s = calloc(1, sizeof(*s));
	int rc = -ENOMEM;
	snprintf(err, errcap, "out of memory");
	if (!s)
		return -ENOMEM;
	s->loop = loop;
	s->cb = cb;
	s->on_pipe = on_pipe;
	s->ud = ud;
	s->nctx = nctx;
	s->owner_only = owner_only && ipc_url_is_ipc(url);
	s->uid = getuid();
	pthread_mutex_init(&s->pmu, NULL);
	if (ipc_mailbox_new(loop, &s->mb) < 0)
		goto fail_free;
	if (nng_rep0_open(&s->sock) != 0)
		goto fail_mb;
	nng_socket_set_size(s->sock, NNG_OPT_RECVMAXSZ, PROTO_MSG_MAX);
	nng_pipe_notify(s->sock, NNG_PIPE_EV_ADD_PRE, pipe_cb, s);
	nng_pipe_notify(s->sock, NNG_PIPE_EV_ADD_POST, pipe_cb, s);
	nng_pipe_notify(s->sock, NNG_PIPE_EV_REM_POST, pipe_cb, s);
	snprintf(s->url, sizeof(s->url), "%s", url);
	if (tls && tls->cert && tls->key && tls->ca) {
		snprintf(s->tls_cert, sizeof(s->tls_cert), "%s", tls->cert);
		snprintf(s->tls_key, sizeof(s->tls_key), "%s", tls->key);
		snprintf(s->tls_ca, sizeof(s->tls_ca), "%s", tls->ca);
	}
	if (ipc_url_is_tls(url)) {
		rc = ipc_tls_config(tls, true, NULL, &s->tls, err, errcap);
		if (rc < 0)
			goto fail_sock;
	}
	rc = listener_start(s, err, errcap);
	if (rc < 0)
		goto fail_sock;
	rc = -ENOMEM;
	s->reqs = calloc((size_t)nctx, sizeof(*s->reqs));
	if (!s->reqs)
		goto fail_sock;
	for (int i = 0; i < nctx; i++) {
		struct ipc_req *rq = &s->reqs[i];
		rq->srv = s;
		if (nng_ctx_open(&rq->ctx, s->sock) != 0 ||
		    nng_aio_alloc(&rq->aio, req_cb, rq) != 0 ||
		    nng_aio_alloc(&rq->saio, NULL, NULL) != 0)
			goto fail_sock;
		rq->state = RQ_RECV;
		nng_ctx_recv(rq->ctx, rq->aio);
	}
	ev_timer_init(&s->watch, listener_watch, 1.0, 1.0);
	s->watch.data = s;
	ev_timer_init(&s->send_poll, send_poll_cb, 0.001, 0.001);
	s->send_poll.data = s;
	ev_timer_start(loop, &s->watch);
	*ret = s;
	return 0;
fail_sock:
	nng_close(s->sock);
	if (s->tls)
		nng_tls_config_free(s->tls);
	if (s->reqs)
		for (int i = 0; i < nctx; i++) {
			if (s->reqs[i].aio)
				nng_aio_free(s->reqs[i].aio);
			if (s->reqs[i].saio)
				nng_aio_free(s->reqs[i].saio);
		}
	free(s->reqs);
fail_mb:
	ipc_mailbox_free(s->mb);
fail_free:
	pthread_mutex_destroy(&s->pmu);
	free(s);
	return rc;
}

void ipc_server_close(struct ipc_server *s)
{
	if (!s)
		return;
	s->closing = true;
	ev_timer_stop(s->loop, &s->watch);
	ev_timer_stop(s->loop, &s->send_poll);
	if (s->probing)
		nng_close(s->probe);
	for (int i = 0; i < s->nctx; i++) {
		nng_aio_stop(s->reqs[i].aio);
		nng_aio_stop(s->reqs[i].saio);
	}
	nng_close(s->sock); /* unlinks the socket file */
	for (int i = 0; i < s->nctx; i++) {
		nng_msg_free(s->reqs[i].msg);
		/* a reply that was still queued (canceled: the message is ours) */
		nng_msg_free(nng_aio_get_msg(s->reqs[i].saio));
		nng_aio_free(s->reqs[i].aio);
		nng_aio_free(s->reqs[i].saio);
	}
	free(s->reqs);
	ipc_mailbox_free(s->mb);
	free(s->pevs);
	if (s->tls)
		nng_tls_config_free(s->tls);
	pthread_mutex_destroy(&s->pmu);
	free(s);
}
