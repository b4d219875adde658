/* The daemons' servers (ACEXY_CONTROL_URL and the admin sockets): nng's SP
 * wire format (acexy/sp_wire.h) spoken by our own code on the server's
 * libev loop, over ipc://, tcp:// and tls+tcp:// (mbedTLS, sp_tls.c). The
 * peers are libnng REQ sockets (dataplanes, acexyctl) and see no
 * difference; the server reads, answers and writes on one thread, with no
 * hand-off to libnng's threads and back (about 7 per request before), and
 * answers a batch of requests that came together with one write.
 *
 * A connection: accepted, [TLS handshake,] SP headers exchanged (both
 * within HANDSHAKE_S), then requests, each handed to the callback with its
 * own struct ipc_req, answered once with ipc_reply (at once or later, in any
 * order: REQ matches replies by id). A connection stops being read while
 * `nctx` of its requests wait for answers or while OUT_HIGH bytes of
 * answers wait for it to read them, and is dropped for what is not a REQ
 * peer: a wrong header, an oversized or malformed message, a handshake
 * that fails or takes too long. Those are logged at most once per 10 s. */
#include "acexy/ipc.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "acexy/log.h"
#include "acexy/proto.h"
#include "acexy/sp_wire.h"
#include "ipc_int.h"
#include "sp_listen.h"
#include "sp_tls.h"

#define HANDSHAKE_S   10.0
#define SCRATCH       (64 * 1024)
#define IN_MIN        (16 * 1024)
#define OUT_HIGH      (4 * 1024 * 1024) /* stop reading a peer that does not read */
#define OUT_LOW       (1024 * 1024)
#define MSG_MAX       (PROTO_MSG_MAX + 4 * SP_BACKTRACE_MAX)
#define REFUSAL_LOG_S 10.0
#define TURN_MAX      (256 * 1024) /* bytes read from one peer per loop turn */

struct sp_conn {
	struct ipc_server *srv;
	uint32_t id;
	int fd;
	ev_io rio, wio;
	ev_timer hs; /* until the SP headers are exchanged */
	struct sp_tls_conn *tls;
	enum { C_TLS, C_SP, C_OPEN } state;
	bool added;      /* on_pipe(added) told */
	bool dead;       /* closed; freed by reap */
	bool paused;     /* not read: nctx requests wait */
	bool out_paused; /* not read: OUT_HIGH bytes of answers wait */
	int busy;        /* inside its own read: answers are written at its end */
	bool spoke;      /* sent a byte */
	unsigned pending;
	uint8_t *in; /* bytes of an unfinished message (NULL when none) */
	size_t in_len, in_cap, need;
	uint8_t *out;
	size_t out_off, out_len, out_cap;
	struct ipc_req *reqs;        /* waiting for their answers */
	struct sp_conn *next, *prev; /* the server's connections, or its dead */
	struct sp_conn *hnext;       /* the pipe table */
	char addr[64];
};

struct ipc_req {
	struct sp_conn *c; /* NULL once its connection is gone */
	uint32_t pipe;
	struct ipc_req *next, *prev;
	uint8_t btlen;
	uint8_t bt[4 * SP_BACKTRACE_MAX];
};

struct ipc_server {
	struct ev_loop *loop;
	ipc_request_fn cb;
	ipc_pipe_fn on_pipe;
	void *ud;
	unsigned nctx;
	bool ipc, owner_only;
	uid_t uid;
	int lfd;
	ev_io lio;
	ev_timer lpause; /* accepting paused: out of descriptors */
	ev_timer reap;
	struct sp_conn *conns, *dead;
	struct sp_tls_server *tls;
	char url[300];
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	dev_t dev;
	ino_t ino;
	uint64_t pauses;
	uint64_t refused; /* peers dropped (refusal) */
	bool closing;     /* in ipc_server_close: no more reaping */
	double refusal_logged;
	uint64_t refusals_unlogged;
	uint8_t scratch[SCRATCH];
};

/* ---- the pipe table: connection ids of every server of this process (all
 * on one loop thread: the controlplane's, the dataplane's main loop) ---- */

#define PTAB 1024
static struct sp_conn *ptab[PTAB];
static uint32_t next_pipe_id;

static void ptab_add(struct sp_conn *c)
{
	do
		c->id = ++next_pipe_id;
	while (c->id == 0);
	c->hnext = ptab[c->id % PTAB];
	ptab[c->id % PTAB] = c;
}

static struct sp_conn *ptab_find(uint32_t id)
{
	struct sp_conn *c = ptab[id % PTAB];
	while (c && c->id != id)
		c = c->hnext;
	return c;
}

static void ptab_del(struct sp_conn *c)
{
	struct sp_conn **p = &ptab[c->id % PTAB];
	while (*p && *p != c)
		p = &(*p)->hnext;
	if (*p)
		*p = c->hnext;
}

uint32_t ipc_req_pipe(const struct ipc_req *rq)
{
	return rq->pipe;
}

bool ipc_pipe_addr(uint32_t pipe, char *buf, size_t cap)
{
	struct sp_conn *c = pipe ? ptab_find(pipe) : NULL;
	snprintf(buf, cap, "%s", c ? c->addr : "");
	return c != NULL;
}

uint64_t ipc_server_restarts(const struct ipc_server *s)
{
	return s ? s->pauses : 0;
}

uint64_t ipc_server_refused(const struct ipc_server *s)
{
	return s ? s->refused : 0;
}

/* ---- connections ---- */

static void refusal(struct ipc_server *s, const struct sp_conn *c, const char *why)
{
	double now = ev_now(s->loop);
	s->refused++;
	if (s->refusal_logged && now - s->refusal_logged < REFUSAL_LOG_S) {
		s->refusals_unlogged++;
		return;
	}
	ALOG(ALOG_WARN, "control_peer_refused", ALOG_S("url", s->url), ALOG_S("peer", c->addr),
	     ALOG_S("why", why), ALOG_U("more_since_last_line", s->refusals_unlogged));
	s->refusal_logged = now;
	s->refusals_unlogged = 0;
}

static void conn_close(struct sp_conn *c)
{
	struct ipc_server *s = c->srv;
	if (c->dead)
		return;
	c->dead = true;
	ev_io_stop(s->loop, &c->rio);
	ev_io_stop(s->loop, &c->wio);
	ev_timer_stop(s->loop, &c->hs);
	sp_tls_conn_free(c->tls);
	c->tls = NULL;
	close(c->fd);
	c->fd = -1;
	ptab_del(c);
	for (struct ipc_req *r = c->reqs; r; r = r->next)
		r->c = NULL; /* their answers go nowhere */
	c->reqs = NULL;
	/* from the live list to the dead one, freed on the next loop turn (a
	 * callback may close the connection it is being called for) */
	if (c->prev)
		c->prev->next = c->next;
	else
		s->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	c->prev = NULL;
	c->next = s->dead;
	s->dead = c;
	if (!s->closing && !ev_is_active(&s->reap)) {
		ev_timer_set(&s->reap, 0., 0.);
		ev_timer_start(s->loop, &s->reap);
	}
}

static void conn_free(struct sp_conn *c)
{
	free(c->in);
	free(c->out);
	free(c);
}

static void reap_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct ipc_server *s = t->data;
	(void)loop;
	(void)revents;
	/* taken whole: a removal callback may close more (a new turn for them) */
	struct sp_conn *d = s->dead;
	s->dead = NULL;
	while (d) {
		struct sp_conn *n = d->next;
		if (d->added && s->on_pipe)
			s->on_pipe(s->ud, d->id, false);
		conn_free(d);
		d = n;
	}
}

void ipc_pipe_close(uint32_t pipe)
{
	struct sp_conn *c = pipe ? ptab_find(pipe) : NULL;
	if (c)
		conn_close(c);
}

static void refuse(struct sp_conn *c, const char *why)
{
	refusal(c->srv, c, why);
	conn_close(c);
}

static void want_write(struct sp_conn *c, bool on)
{
	if (on)
		ev_io_start(c->srv->loop, &c->wio);
	else
		ev_io_stop(c->srv->loop, &c->wio);
}

static void set_reading(struct sp_conn *c)
{
	struct ipc_server *s = c->srv;
	bool was = ev_is_active(&c->rio);
	bool on = !c->paused && !c->out_paused && !c->dead;
	if (on && !was) {
		ev_io_start(s->loop, &c->rio);
		/* what is already in the buffers announces itself no more */
		if (c->in_len || (c->tls && sp_tls_pending(c->tls)))
			ev_feed_event(s->loop, &c->rio, EV_READ);
	} else if (!on && was) {
		ev_io_stop(s->loop, &c->rio);
	}
}

/* Writes what it can of the answers; true unless the connection broke. */
static bool conn_flush(struct sp_conn *c)
{
	while (c->out_off < c->out_len) {
		bool ww = true;
		size_t left = c->out_len - c->out_off;
		ssize_t n = c->tls ? sp_tls_write(c->tls, c->out + c->out_off, left, &ww)
		                   : send(c->fd, c->out + c->out_off, left, MSG_NOSIGNAL);
		if (n > 0) {
			c->out_off += (size_t)n;
			continue;
		}
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
			want_write(c, true);
			goto check;
		}
		conn_close(c); /* the peer is gone */
		return false;
	}
	c->out_off = c->out_len = 0;
	if (c->out_cap > OUT_LOW) { /* a burst is over: give the memory back */
		free(c->out);
		c->out = NULL;
		c->out_cap = 0;
	}
	want_write(c, false);
check:
	if (c->out_paused != (c->out_len - c->out_off > (c->out_paused ? OUT_LOW : OUT_HIGH))) {
		c->out_paused = !c->out_paused;
		set_reading(c);
	}
	return true;
}

static bool out_append(struct sp_conn *c, const void *a, size_t na, const void *b, size_t nb,
                       const void *d, size_t nd)
{
	size_t want = c->out_len + na + nb + nd;
	if (want > c->out_cap) {
		if (c->out_off) { /* (a TLS write that waited needs its length only) */
			memmove(c->out, c->out + c->out_off, c->out_len - c->out_off);
			c->out_len -= c->out_off;
			c->out_off = 0;
			want = c->out_len + na + nb + nd;
		}
		if (want > c->out_cap) {
			size_t cap = c->out_cap ? c->out_cap : 4096;
			while (cap < want)
				cap *= 2;
			uint8_t *n = realloc(c->out, cap);
			if (!n)
				return false;
			c->out = n;
			c->out_cap = cap;
		}
	}
	memcpy(c->out + c->out_len, a, na);
	if (nb)
		memcpy(c->out + c->out_len + na, b, nb);
	if (nd)
		memcpy(c->out + c->out_len + na + nb, d, nd);
	c->out_len = want;
	return true;
}

static void hello_done(struct sp_conn *c)
{
	struct ipc_server *s = c->srv;
	c->state = C_OPEN;
	ev_timer_stop(s->loop, &c->hs);
	c->added = true;
	if (s->on_pipe)
		s->on_pipe(s->ud, c->id, true); /* may close it */
}

/* Takes what it can of buf: the peer's SP header, then whole messages, each
 * handed to the callback. Returns the bytes used; the rest waits for more
 * (c->need: how many a message takes whole) or for the connection to be
 * read again. */
static size_t take(struct sp_conn *c, const uint8_t *buf, size_t len)
{
	struct ipc_server *s = c->srv;
	size_t off = 0;
	if (c->state == C_SP) {
		uint16_t proto;
		if (len < SP_HEADER_LEN)
			return 0;
		if (!sp_header_parse(buf, &proto)) {
			refuse(c, "not an SP peer (its first 8 bytes are no SP header)");
			return len;
		}
		if (proto != SP_PROTO_REQ0) {
			refuse(c, "an SP peer of another protocol than REQ");
			return len;
		}
		off = SP_HEADER_LEN;
		hello_done(c);
	}
	while (!c->dead && !c->paused && off < len) {
		const uint8_t *msg;
		size_t ml, used;
		enum sp_frame_rc rc = sp_frame_next(buf + off, len - off, s->ipc, MSG_MAX, &msg,
		                                    &ml, &used, &c->need);
		if (rc == SP_FRAME_MORE)
			break;
		if (rc != SP_FRAME_OK) {
			refuse(c, rc == SP_FRAME_TOO_BIG ? "a message larger than allowed"
			                                 : "not a message (ipc:// type byte)");
			return len;
		}
		size_t bt = sp_req_backtrace(msg, ml);
		if (bt == 0) {
			refuse(c, "a request with no request id");
			return len;
		}
		struct ipc_req *r = malloc(sizeof(*r));
		if (!r) {
			refuse(c, "out of memory");
			return len;
		}
		r->c = c;
		r->pipe = c->id;
		r->btlen = (uint8_t)bt;
		memcpy(r->bt, msg, bt);
		r->prev = NULL;
		r->next = c->reqs;
		if (c->reqs)
			c->reqs->prev = r;
		c->reqs = r;
		off += used;
		c->need = 0;
		if (++c->pending >= s->nctx) {
			c->paused = true;
			set_reading(c);
		}
		s->cb(s->ud, r, msg + bt, ml - bt);
	}
	return off;
}

/* Keeps buf[0..n) for later in c->in (which may be where it already is). */
static bool keep_rest(struct sp_conn *c, const uint8_t *buf, size_t n)
{
	if (n == 0) {
		free(c->in);
		c->in = NULL;
		c->in_len = c->in_cap = 0;
		return true;
	}
	if (buf == c->in) {
		c->in_len = n;
		return true;
	}
	size_t cap = n > IN_MIN ? n : IN_MIN;
	if (c->need > cap)
		cap = c->need;
	uint8_t *m = cap > c->in_cap ? malloc(cap) : c->in;
	if (!m)
		return false;
	memmove(m, buf, n);
	if (m != c->in) {
		free(c->in);
		c->in = m;
		c->in_cap = cap;
	}
	c->in_len = n;
	return true;
}

static void conn_read(struct sp_conn *c)
{
	struct ipc_server *s = c->srv;
	size_t taken = 0;
	c->busy++;
	while (!c->dead && !c->paused && !c->out_paused) {
		uint8_t *dst;
		size_t room;
		if (c->in_len == 0) {
			dst = s->scratch;
			room = SCRATCH;
		} else {
			size_t want = c->need > c->in_len + IN_MIN ? c->need : c->in_len + IN_MIN;
			if (want > c->in_cap) {
				uint8_t *m = realloc(c->in, want);
				if (!m) {
					refuse(c, "out of memory");
					break;
				}
				c->in = m;
				c->in_cap = want;
			}
			dst = c->in + c->in_len;
			room = c->in_cap - c->in_len;
		}
		bool ww = false;
		ssize_t n =
		        c->tls ? sp_tls_read(c->tls, dst, room, &ww) : recv(c->fd, dst, room, 0);
		if (n == 0 ||
		    (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
			/* one that only knocked (a health check, a stale-socket
			 * test) is no refusal */
			if (c->state != C_OPEN && c->spoke)
				refusal(s, c, "hung up during the SP header exchange");
			conn_close(c);
			break;
		}
		if (n < 0) {
			if (ww) /* TLS needs to write before it reads on */
				want_write(c, true);
			break;
		}
		c->spoke = true;
		const uint8_t *base = c->in_len ? c->in : s->scratch;
		size_t have = (c->in_len ? c->in_len : 0) + (size_t)n;
		size_t used = take(c, base, have);
		if (c->dead)
			break;
		if (!keep_rest(c, base + used, have - used)) {
			refuse(c, "out of memory");
			break;
		}
		if (!c->tls && (size_t)n < room)
			break; /* the socket is empty: save a read that says so */
		/* a fair share of the loop per turn, and the answers out before
		 * more is read (a peer that floods and does not read stops being
		 * read at OUT_HIGH); the socket, or TLS's own buffer, brings the
		 * rest on the next turn */
		if ((taken += (size_t)n) >= TURN_MAX) {
			if (c->tls && sp_tls_pending(c->tls))
				ev_feed_event(s->loop, &c->rio, EV_READ);
			break;
		}
		if (c->out_len - c->out_off >= OUT_LOW && !conn_flush(c))
			break;
	}
	/* requests read when the connection was paused, now let in */
	if (!c->dead && !c->paused && c->in_len && c->state == C_OPEN) {
		size_t used = take(c, c->in, c->in_len);
		if (!c->dead)
			keep_rest(c, c->in + used, c->in_len - used);
	}
	c->busy--;
	if (!c->dead)
		conn_flush(c);
}

static void tls_step(struct sp_conn *c)
{
	char err[300];
	bool ww = false;
	int rc = sp_tls_handshake(c->tls, &ww, err, sizeof(err));
	if (rc < 0) {
		refuse(c, err);
		return;
	}
	if (rc == 0) {
		want_write(c, ww);
		return;
	}
	want_write(c, false);
	c->state = C_SP;
	uint8_t h[SP_HEADER_LEN];
	sp_header_make(SP_PROTO_REP0, h);
	if (out_append(c, h, sizeof(h), NULL, 0, NULL, 0) && conn_flush(c))
		conn_read(c); /* the peer's header may be in already */
}

static void conn_io(struct ev_loop *loop, ev_io *w, int revents)
{
	struct sp_conn *c = w->data;
	(void)loop;
	if (c->state == C_TLS) {
		tls_step(c);
		return;
	}
	if (revents & EV_WRITE) {
		if (!conn_flush(c))
			return;
		if (c->tls && !c->out_len) /* a read that waited to write */
			conn_read(c);
	}
	if ((revents & EV_READ) && !c->dead)
		conn_read(c);
}

static void hs_timeout(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct sp_conn *c = t->data;
	(void)loop;
	(void)revents;
	refuse(c, c->state == C_TLS ? "no TLS handshake within 10 s" : "no SP header within 10 s");
}

static void peer_addr(const struct sockaddr_storage *ss, char *buf, size_t cap)
{
	char h[INET6_ADDRSTRLEN] = "?";
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *a = (const struct sockaddr_in *)ss;
		inet_ntop(AF_INET, &a->sin_addr, h, sizeof(h));
		snprintf(buf, cap, "%s:%u", h, ntohs(a->sin_port));
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)ss;
		if (IN6_IS_ADDR_V4MAPPED(&a->sin6_addr)) {
			inet_ntop(AF_INET, &a->sin6_addr.s6_addr[12], h, sizeof(h));
			snprintf(buf, cap, "%s:%u", h, ntohs(a->sin6_port));
		} else {
			inet_ntop(AF_INET6, &a->sin6_addr, h, sizeof(h));
			snprintf(buf, cap, "[%s]:%u", h, ntohs(a->sin6_port));
		}
	} else {
		snprintf(buf, cap, "ipc");
	}
}

static void conn_new(struct ipc_server *s, int fd, const struct sockaddr_storage *ss)
{
	struct sp_conn *c = calloc(1, sizeof(*c));
	if (!c) {
		close(fd);
		return;
	}
	c->srv = s;
	c->fd = fd;
	peer_addr(ss, c->addr, sizeof(c->addr));
	ptab_add(c);
	c->next = s->conns;
	if (s->conns)
		s->conns->prev = c;
	s->conns = c;
	ev_io_init(&c->rio, conn_io, fd, EV_READ);
	ev_io_init(&c->wio, conn_io, fd, EV_WRITE);
	ev_timer_init(&c->hs, hs_timeout, HANDSHAKE_S, 0.);
	c->rio.data = c->wio.data = c->hs.data = c;
	ev_timer_start(s->loop, &c->hs);
	if (s->ipc) {
		struct ucred cr;
		socklen_t cl = sizeof(cr);
		if (s->owner_only && (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &cl) != 0 ||
		                      (cr.uid != 0 && cr.uid != s->uid))) {
			refuse(c, "a peer of another user (the socket is for its owner and root)");
			return;
		}
	} else {
		int one = 1;
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
	}
	ev_io_start(s->loop, &c->rio);
	if (s->tls) {
		c->state = C_TLS;
		c->tls = sp_tls_conn_new(s->tls, fd);
		if (!c->tls)
			refuse(c, "out of memory");
		return;
	}
	c->state = C_SP;
	uint8_t h[SP_HEADER_LEN];
	sp_header_make(SP_PROTO_REP0, h);
	if (!out_append(c, h, sizeof(h), NULL, 0, NULL, 0))
		refuse(c, "out of memory");
	else
		conn_flush(c);
}

/* ---- the listener ---- */

static void lpause_cb(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct ipc_server *s = t->data;
	(void)revents;
	ev_io_start(loop, &s->lio);
}

static void accept_cb(struct ev_loop *loop, ev_io *w, int revents)
{
	struct ipc_server *s = w->data;
	(void)revents;
	for (int i = 0; i < 64; i++) {
		struct sockaddr_storage ss = {0};
		socklen_t sl = sizeof(ss);
		int fd = accept4(s->lfd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd >= 0) {
			conn_new(s, fd, &ss);
			continue;
		}
		if (errno == EINTR || errno == ECONNABORTED)
			continue;
		if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
			/* out of descriptors: wait instead of spinning on the backlog */
			s->pauses++;
			ALOG(ALOG_WARN, "accept_paused", ALOG_S("url", s->url),
			     ALOG_S("error", strerror(errno)));
			ev_io_stop(loop, w);
			ev_timer_set(&s->lpause, 0.1, 0.);
			ev_timer_start(loop, &s->lpause);
		}
		return;
	}
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
	if (!s) {
		snprintf(err, errcap, "out of memory");
		return -ENOMEM;
	}
	s->loop = loop;
	s->cb = cb;
	s->on_pipe = on_pipe;
	s->ud = ud;
	s->nctx = nctx > 0 ? (unsigned)nctx : 1;
	s->ipc = ipc_url_is_ipc(url);
	s->owner_only = owner_only && s->ipc;
	s->uid = getuid();
	s->lfd = -1;
	snprintf(s->url, sizeof(s->url), "%s", url);
	int rc;
	if (s->ipc) {
		rc = sp_listen_ipc(url, url + 6, &s->lfd, &s->dev, &s->ino, err, errcap);
		if (rc == 0)
			snprintf(s->path, sizeof(s->path), "%s", url + 6);
	} else if (strncmp(url, "tcp://", 6) == 0) {
		rc = sp_listen_tcp(url, url + 6, &s->lfd, err, errcap);
	} else if (ipc_url_is_tls(url)) {
		rc = sp_tls_server_new(tls, &s->tls, err, errcap);
		if (rc == 0)
			rc = sp_listen_tcp(url, url + 10, &s->lfd, err, errcap);
	} else {
		snprintf(err, errcap, "cannot listen on %s: not ipc://, tcp:// or tls+tcp://", url);
		rc = -EINVAL;
	}
	if (rc < 0) {
		sp_tls_server_free(s->tls);
		free(s);
		return rc;
	}
	ev_io_init(&s->lio, accept_cb, s->lfd, EV_READ);
	ev_timer_init(&s->lpause, lpause_cb, 0.1, 0.);
	ev_timer_init(&s->reap, reap_cb, 0., 0.);
	s->lio.data = s->lpause.data = s->reap.data = s;
	ev_io_start(loop, &s->lio);
	*ret = s;
	return 0;
}

void ipc_server_close(struct ipc_server *s)
{
	if (!s)
		return;
	s->closing = true;
	ev_io_stop(s->loop, &s->lio);
	ev_timer_stop(s->loop, &s->lpause);
	ev_timer_stop(s->loop, &s->reap);
	close(s->lfd);
	struct stat st;
	if (s->path[0] && stat(s->path, &st) == 0 && st.st_dev == s->dev && st.st_ino == s->ino)
		unlink(s->path); /* ours, not a successor's */
	s->on_pipe = NULL;       /* no events from a server going away */
	while (s->conns) {
		struct ipc_req *r = s->conns->reqs;
		conn_close(s->conns);
		/* requests still unanswered: nobody answers them now */
		while (r) {
			struct ipc_req *n = r->next;
			free(r);
			r = n;
		}
	}
	while (s->dead) {
		struct sp_conn *n = s->dead->next;
		conn_free(s->dead);
		s->dead = n;
	}
	sp_tls_server_free(s->tls);
	free(s);
}

/* ---- answers ---- */

void ipc_reply(struct ipc_req *r, const void *buf, size_t len)
{
	struct sp_conn *c = r->c;
	if (c) {
		if (r->prev)
			r->prev->next = r->next;
		else
			c->reqs = r->next;
		if (r->next)
			r->next->prev = r->prev;
		uint8_t pre[SP_FRAME_PREFIX_MAX];
		size_t pl = sp_frame_prefix(c->srv->ipc, r->btlen + len, pre);
		if (!out_append(c, pre, pl, r->bt, r->btlen, buf, len)) {
			refuse(c, "out of memory");
		} else {
			c->pending--;
			if (c->paused && c->pending < c->srv->nctx) {
				c->paused = false;
				set_reading(c);
			}
			if (!c->busy) /* else at the end of its read: one write for all */
				conn_flush(c);
		}
	}
	free(r);
}
