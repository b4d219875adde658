#include "acexy/ipc.h"

#include <arpa/inet.h>
#include <errno.h>
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

/* ---- TLS ---- */

char *ipc_read_pem(const char *path, char *err, size_t errcap, const char *what)
{
	char *buf = NULL;
	size_t n;
	int rc = acexy_read_file(path, 256 * 1024, &buf, &n);
	if (rc == -EFBIG)
		snprintf(err, errcap, "the TLS %s %s is larger than 256 KiB", what, path);
	else if (rc < 0)
		snprintf(err, errcap, "cannot read the TLS %s %s: %s", what, path, strerror(-rc));
	return rc < 0 ? NULL : buf;
}

/* A client's TLS configuration: own certificate and key, the server
 * verified against the CA (the server verifies us as well). server_name:
 * the host dialed, checked against the server's certificate when it is a
 * name. */
static int tls_client_config(const struct ipc_tls *tls, const char *server_name,
                             nng_tls_config **ret, char *err, size_t errcap)
{
	nng_tls_config *c = NULL;
	char *cert = NULL, *key = NULL;
	int rv;
	if (!tls || !tls->cert || !tls->key || !tls->ca || !*tls->cert || !*tls->key || !*tls->ca) {
		snprintf(err, errcap, "tls+tcp:// needs a certificate, a key and a CA");
		return -EINVAL;
	}
	rv = nng_tls_config_alloc(&c, NNG_TLS_MODE_CLIENT);
	if (rv != 0) {
		snprintf(err, errcap, "TLS is not available in this libnng: %s", nng_strerror(rv));
		return -ENOTSUP;
	}
	cert = ipc_read_pem(tls->cert, err, errcap, "certificate");
	key = cert ? ipc_read_pem(tls->key, err, errcap, "key") : NULL;
	if (!cert || !key) {
		rv = -EINVAL;
		goto free_key_and_cert;
	}
	if ((rv = nng_tls_config_ca_file(c, tls->ca)) != 0) {
		snprintf(err, errcap, "the TLS CA %s is not usable: %s", tls->ca, nng_strerror(rv));
		rv = -EINVAL;
		goto free_key_and_cert;
	}
	if ((rv = nng_tls_config_own_cert(c, cert, key, NULL)) != 0) {
		snprintf(err, errcap, "the TLS certificate %s and key %s are not usable: %s",
		         tls->cert, tls->key, nng_strerror(rv));
		rv = -EINVAL;
		goto free_key_and_cert;
	}
	nng_tls_config_auth_mode(c, NNG_TLS_AUTH_MODE_REQUIRED);
	nng_tls_config_version(c, NNG_TLS_1_2, NNG_TLS_1_3);
	if (server_name && *server_name)
		nng_tls_config_server_name(c, server_name);
	*ret = c;
	c = NULL;
	rv = 0;
free_key_and_cert:
	if (key) {
		memset(key, 0, strlen(key));
		free(key);
	}
	free(cert);
	if (c)
		nng_tls_config_free(c);
	return rv;
}

/* The host of a tcp/tls URL when it is a name (not an address literal). */
static void url_host_name(const char *url, char *buf, size_t cap)
{
	buf[0] = '\0';
	const char *h = strstr(url, "://");
	if (!h || h[3] == '[')
		return;
	h += 3;
	size_t n = strcspn(h, ":");
	bool name = false;
	for (size_t i = 0; i < n; i++)
		if ((h[i] < '0' || h[i] > '9') && h[i] != '.')
			name = true;
	if (name && n < cap) {
		memcpy(buf, h, n);
		buf[n] = '\0';
	}
}

bool ipc_url_is_tls(const char *url)
{
	return strncmp(url, "tls+tcp://", 10) == 0;
}

bool ipc_url_is_ipc(const char *url)
{
	return strncmp(url, "ipc://", 6) == 0;
}

/* ---- client ---- */

int ipc_client_open(const char *url, int32_t resend_ms, nng_socket *ret)
{
	char err[200];
	return ipc_client_open_tls(url, resend_ms, NULL, ret, err, sizeof(err));
}

int ipc_client_open_tls(const char *url, int32_t resend_ms, const struct ipc_tls *tls,
                        nng_socket *ret, char *err, size_t errcap)
{
	nng_socket s;
	nng_dialer d;
	nng_tls_config *tc = NULL;
	int rv = nng_req0_open(&s);
	if (rv != 0) {
		snprintf(err, errcap, "out of memory");
		return -ENOMEM;
	}
	nng_socket_set_size(s, NNG_OPT_RECVMAXSZ, PROTO_MSG_MAX);
	nng_socket_set_ms(s, NNG_OPT_REQ_RESENDTIME, (nng_duration)resend_ms);
	nng_socket_set_ms(s, NNG_OPT_RECONNMINT, 50);
	nng_socket_set_ms(s, NNG_OPT_RECONNMAXT, 500);
	if ((rv = nng_dialer_create(&d, s, url)) != 0) {
		snprintf(err, errcap, "cannot dial %s: %s", url, nng_strerror(rv));
		nng_close(s);
		return -EINVAL;
	}
	if (!ipc_url_is_ipc(url)) {
		nng_dialer_set_bool(d, NNG_OPT_TCP_NODELAY, true);
		nng_dialer_set_bool(d, NNG_OPT_TCP_KEEPALIVE, true);
	}
	if (ipc_url_is_tls(url)) {
		char host[256];
		url_host_name(url, host, sizeof(host));
		rv = tls_client_config(tls, host, &tc, err, errcap);
		if (rv < 0) {
			nng_close(s);
			return rv;
		}
		rv = nng_dialer_set_ptr(d, NNG_OPT_TLS_CONFIG, tc);
		nng_tls_config_free(tc); /* the dialer holds it */
		if (rv != 0) {
			snprintf(err, errcap, "cannot use TLS on %s: %s", url, nng_strerror(rv));
			nng_close(s);
			return -EINVAL;
		}
	}
	rv = nng_dialer_start(d, NNG_FLAG_NONBLOCK);
	if (rv != 0) {
		snprintf(err, errcap, "cannot dial %s: %s", url, nng_strerror(rv));
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
