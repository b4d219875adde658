#include "acexy/ipc.h"

#include <errno.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/protocol/reqrep0/req.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "acexy/proto.h"

/* ---- mailbox ---- */

struct mb_item {
	struct mb_item *next;
	void (*fn)(void *);
	void *arg;
};

struct ipc_mailbox {
	struct ev_loop *loop;
	ev_async async;
	pthread_mutex_t mu;
	struct mb_item *head, *tail;
};

static void mb_drain(struct ev_loop *loop, ev_async *a, int revents)
{
	struct ipc_mailbox *mb = a->data;
	pthread_mutex_lock(&mb->mu);
	struct mb_item *it = mb->head;
	mb->head = mb->tail = NULL;
	pthread_mutex_unlock(&mb->mu);
	while (it) {
		struct mb_item *next = it->next;
		it->fn(it->arg);
		free(it);
		it = next;
	}
}

int ipc_mailbox_new(struct ev_loop *loop, struct ipc_mailbox **ret)
{
	struct ipc_mailbox *mb = calloc(1, sizeof(*mb));
	if (!mb)
		return -ENOMEM;
	mb->loop = loop;
	pthread_mutex_init(&mb->mu, NULL);
	ev_async_init(&mb->async, mb_drain);
	mb->async.data = mb;
	ev_async_start(loop, &mb->async);
	*ret = mb;
	return 0;
}

void ipc_mailbox_free(struct ipc_mailbox *mb)
{
	if (!mb)
		return;
	ev_async_stop(mb->loop, &mb->async);
	struct mb_item *it = mb->head;
	while (it) {
		struct mb_item *n = it->next;
		free(it);
		it = n;
	}
	pthread_mutex_destroy(&mb->mu);
	free(mb);
}

void ipc_mailbox_post(struct ipc_mailbox *mb, void (*fn)(void *), void *arg)
{
	/* one item per in-flight nng operation: bounded by the callers' own
	 * limits on outstanding calls and server contexts */
	struct mb_item *it = malloc(sizeof(*it));
	if (!it) {
		abort(); /* cannot lose a completion; out of memory is fatal */
	}
	it->next = NULL;
	it->fn = fn;
	it->arg = arg;
	pthread_mutex_lock(&mb->mu);
	if (mb->tail)
		mb->tail->next = it;
	else
		mb->head = it;
	mb->tail = it;
	pthread_mutex_unlock(&mb->mu);
	ev_async_send(mb->loop, &mb->async);
}

int ipc_url(const char *run_dir, const char *name, char *buf, size_t cap)
{
	if (mkdir(run_dir, 0750) < 0 && errno != EEXIST)
		return -errno;
	int n = snprintf(buf, cap, "ipc://%s/%s", run_dir, name);
	/* sun_path holds 108 bytes */
	if (n < 0 || (size_t)n >= cap || strlen(run_dir) + strlen(name) + 2 > 107)
		return -ENAMETOOLONG;
	return 0;
}

/* ---- client ---- */

int ipc_client_open(const char *url, int32_t resend_ms, nng_socket *ret)
{
	nng_socket s;
	int rv = nng_req0_open(&s);
	if (rv != 0)
		return -ENOMEM;
	nng_socket_set_size(s, NNG_OPT_RECVMAXSZ, PROTO_MSG_MAX);
	nng_socket_set_ms(s, NNG_OPT_REQ_RESENDTIME, (nng_duration)resend_ms);
	nng_socket_set_ms(s, NNG_OPT_RECONNMINT, 50);
	nng_socket_set_ms(s, NNG_OPT_RECONNMAXT, 500);
	rv = nng_dial(s, url, NULL, NNG_FLAG_NONBLOCK);
	if (rv != 0) {
		nng_close(s);
		return -EINVAL;
	}
	*ret = s;
	return 0;
}

struct call {
	nng_ctx ctx;
	nng_aio *aio;
	struct ipc_mailbox *mb;
	ipc_reply_fn cb;
	void *ud;
	int err;
	nng_msg *reply;
	bool sending;
};

static void call_deliver(void *arg)
{
	struct call *c = arg;
	if (c->reply)
		c->cb(c->ud, 0, nng_msg_body(c->reply), nng_msg_len(c->reply));
	else
		c->cb(c->ud, c->err ? c->err : NNG_EINTERNAL, NULL, 0);
	nng_msg_free(c->reply);
	nng_ctx_close(c->ctx);
	nng_aio_reap(c->aio);
	free(c);
}

static void call_cb(void *arg)
{
	struct call *c = arg;
	int rv = nng_aio_result(c->aio);
	if (c->sending) {
		c->sending = false;
		if (rv != 0) {
			nng_msg_free(nng_aio_get_msg(c->aio));
			c->err = rv;
			ipc_mailbox_post(c->mb, call_deliver, c);
			return;
		}
		nng_ctx_recv(c->ctx, c->aio);
		return;
	}
	if (rv == 0)
		c->reply = nng_aio_get_msg(c->aio);
	c->err = rv;
	ipc_mailbox_post(c->mb, call_deliver, c);
}

int ipc_call(nng_socket sock, struct ipc_mailbox *mb, const void *buf, size_t len,
             uint32_t timeout_ms, ipc_reply_fn cb, void *ud)
{
	struct call *c = calloc(1, sizeof(*c));
	nng_msg *m = NULL;
	if (!c)
		return -ENOMEM;
	c->mb = mb;
	c->cb = cb;
	c->ud = ud;
	if (nng_ctx_open(&c->ctx, sock) != 0) {
		free(c);
		return -EIO;
	}
	if (nng_aio_alloc(&c->aio, call_cb, c) != 0 || nng_msg_alloc(&m, 0) != 0 ||
	    nng_msg_append(m, buf, len) != 0) {
		nng_msg_free(m);
		if (c->aio)
			nng_aio_free(c->aio);
		nng_ctx_close(c->ctx);
		free(c);
		return -ENOMEM;
	}
	/* the deadline covers sending (peer absent) and the answer */
	nng_aio_set_timeout(c->aio, (nng_duration)timeout_ms);
	c->sending = true;
	nng_aio_set_msg(c->aio, m);
	nng_ctx_send(c->ctx, c->aio);
	return 0;
}

/* ---- server ---- */

struct ipc_req {
	struct ipc_server *srv;
	nng_ctx ctx;
	nng_aio *aio;
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
};

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
	if (rq->state == RQ_SEND) {
		if (rv != 0)
			nng_msg_free(nng_aio_get_msg(rq->aio));
		rq->state = RQ_RECV;
		nng_ctx_recv(rq->ctx, rq->aio);
		return;
	}
	if (rv == NNG_ECLOSED || rv == NNG_ECANCELED)
		return;
	if (rv != 0) {
		nng_ctx_recv(rq->ctx, rq->aio);
		return;
	}
	rq->msg = nng_aio_get_msg(rq->aio);
	ipc_mailbox_post(rq->srv->mb, req_deliver, rq);
}

void ipc_reply(struct ipc_req *rq, const void *buf, size_t len)
{
	nng_msg *m = rq->msg;
	rq->msg = NULL;
	nng_msg_clear(m);
	if (nng_msg_append(m, buf, len) != 0) {
		nng_msg_free(m);
		rq->state = RQ_RECV;
		nng_ctx_recv(rq->ctx, rq->aio);
		return;
	}
	rq->state = RQ_SEND;
	nng_aio_set_msg(rq->aio, m);
	nng_ctx_send(rq->ctx, rq->aio);
}

static void pipe_cb(nng_pipe p, nng_pipe_ev ev, void *arg)
{
	struct ipc_server *s = arg;
	uint64_t uid = (uint64_t)-1;
	if (!s->owner_only || ev != NNG_PIPE_EV_ADD_PRE)
		return;
	if (nng_pipe_get_uint64(p, NNG_OPT_IPC_PEER_UID, &uid) != 0 ||
	    (uid != 0 && uid != (uint64_t)s->uid))
		nng_pipe_close(p);
}

int ipc_server_open(struct ev_loop *loop, const char *url, int nctx, bool owner_only,
                    ipc_request_fn cb, void *ud, struct ipc_server **ret)
{
	struct ipc_server *s = calloc(1, sizeof(*s));
	int rc = -ENOMEM;
	if (!s)
		return -ENOMEM;
	s->loop = loop;
	s->cb = cb;
	s->ud = ud;
	s->nctx = nctx;
	s->owner_only = owner_only;
	s->uid = getuid();
	if (ipc_mailbox_new(loop, &s->mb) < 0)
		goto fail_free;
	if (nng_rep0_open(&s->sock) != 0)
		goto fail_mb;
	nng_socket_set_size(s->sock, NNG_OPT_RECVMAXSZ, PROTO_MSG_MAX);
	nng_pipe_notify(s->sock, NNG_PIPE_EV_ADD_PRE, pipe_cb, s);
	if (nng_listener_create(&s->listener, s->sock, url) != 0) {
		rc = -EINVAL;
		goto fail_sock;
	}
	/* must be set before start (nng 1.5.2) */
	nng_listener_set_int(s->listener, NNG_OPT_IPC_PERMISSIONS, 0660);
	int rv = nng_listener_start(s->listener, 0);
	if (rv != 0) {
		rc = rv == NNG_EADDRINUSE ? -EADDRINUSE : rv == NNG_EPERM ? -EACCES : -EIO;
		goto fail_sock;
	}
	s->reqs = calloc((size_t)nctx, sizeof(*s->reqs));
	if (!s->reqs)
		goto fail_sock;
	for (int i = 0; i < nctx; i++) {
		struct ipc_req *rq = &s->reqs[i];
		rq->srv = s;
		if (nng_ctx_open(&rq->ctx, s->sock) != 0 ||
		    nng_aio_alloc(&rq->aio, req_cb, rq) != 0)
			goto fail_sock;
		rq->state = RQ_RECV;
		nng_ctx_recv(rq->ctx, rq->aio);
	}
	*ret = s;
	return 0;
fail_sock:
	nng_close(s->sock);
	if (s->reqs)
		for (int i = 0; i < nctx; i++)
			if (s->reqs[i].aio)
				nng_aio_free(s->reqs[i].aio);
	free(s->reqs);
fail_mb:
	ipc_mailbox_free(s->mb);
fail_free:
	free(s);
	return rc;
}

void ipc_server_close(struct ipc_server *s)
{
	if (!s)
		return;
	s->closing = true;
	for (int i = 0; i < s->nctx; i++)
		nng_aio_stop(s->reqs[i].aio);
	nng_close(s->sock); /* unlinks the socket file */
	for (int i = 0; i < s->nctx; i++) {
		nng_msg_free(s->reqs[i].msg);
		nng_aio_free(s->reqs[i].aio);
	}
	free(s->reqs);
	ipc_mailbox_free(s->mb);
	free(s);
}
