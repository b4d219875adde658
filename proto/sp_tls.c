/* TLS for the servers' connections on mbedTLS: see sp_tls.h. */
#include "sp_tls.h"

#include <errno.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/error.h>
#include <mbedtls/net_sockets.h>
#include <mbedtls/pk.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "ipc_int.h"

struct sp_tls_server {
	mbedtls_ssl_config conf;
	mbedtls_x509_crt ca, cert;
	mbedtls_pk_context key;
	mbedtls_entropy_context entropy;
	mbedtls_ctr_drbg_context drbg;
};

struct sp_tls_conn {
	mbedtls_ssl_context ssl;
	int fd;
	size_t wpending; /* a write that waited: its length */
};

static void tls_reason(int rc, char *err, size_t errcap, const char *what)
{
	char m[160];
	mbedtls_strerror(rc, m, sizeof(m));
	snprintf(err, errcap, "%s: %s", what, m);
}

void sp_tls_server_free(struct sp_tls_server *s)
{
	if (!s)
		return;
	mbedtls_ssl_config_free(&s->conf);
	mbedtls_x509_crt_free(&s->ca);
	mbedtls_x509_crt_free(&s->cert);
	mbedtls_pk_free(&s->key);
	mbedtls_ctr_drbg_free(&s->drbg);
	mbedtls_entropy_free(&s->entropy);
	free(s);
}

/* mbedtls_x509_crt_parse wants a PEM with its terminating NUL counted */
static int parse_pem_crt(mbedtls_x509_crt *crt, const char *path, const char *what, char *err,
                         size_t errcap)
{
	char *pem = ipc_read_pem(path, err, errcap, what);
	if (!pem)
		return -EINVAL;
	int rc = mbedtls_x509_crt_parse(crt, (const unsigned char *)pem, strlen(pem) + 1);
	free(pem);
	if (rc != 0) {
		char w[400];
		snprintf(w, sizeof(w), "the TLS %s %s is not usable", what, path);
		tls_reason(rc, err, errcap, w);
		return -EINVAL;
	}
	return 0;
}

int sp_tls_server_new(const struct ipc_tls *tls, struct sp_tls_server **ret, char *err,
                      size_t errcap)
{
	if (!tls || !tls->cert || !tls->key || !tls->ca || !*tls->cert || !*tls->key || !*tls->ca) {
		snprintf(err, errcap, "tls+tcp:// needs a certificate, a key and a CA");
		return -EINVAL;
	}
	struct sp_tls_server *s = calloc(1, sizeof(*s));
	if (!s) {
		snprintf(err, errcap, "out of memory");
		return -ENOMEM;
	}
	mbedtls_ssl_config_init(&s->conf);
	mbedtls_x509_crt_init(&s->ca);
	mbedtls_x509_crt_init(&s->cert);
	mbedtls_pk_init(&s->key);
	mbedtls_entropy_init(&s->entropy);
	mbedtls_ctr_drbg_init(&s->drbg);
	int rc = mbedtls_ctr_drbg_seed(&s->drbg, mbedtls_entropy_func, &s->entropy,
	                               (const unsigned char *)"acexy-control", 13);
	if (rc != 0) {
		tls_reason(rc, err, errcap, "cannot seed TLS's random numbers");
		goto fail;
	}
	if (parse_pem_crt(&s->ca, tls->ca, "CA", err, errcap) < 0 ||
	    parse_pem_crt(&s->cert, tls->cert, "certificate", err, errcap) < 0)
		goto fail;
	char *key = ipc_read_pem(tls->key, err, errcap, "key");
	if (!key)
		goto fail;
	rc = mbedtls_pk_parse_key(&s->key, (const unsigned char *)key, strlen(key) + 1, NULL, 0);
	memset(key, 0, strlen(key));
	free(key);
	if (rc != 0) {
		char w[400];
		snprintf(w, sizeof(w), "the TLS key %s is not usable", tls->key);
		tls_reason(rc, err, errcap, w);
		goto fail;
	}
	rc = mbedtls_ssl_config_defaults(&s->conf, MBEDTLS_SSL_IS_SERVER,
	                                 MBEDTLS_SSL_TRANSPORT_STREAM, MBEDTLS_SSL_PRESET_DEFAULT);
	if (rc == 0)
		rc = mbedtls_ssl_conf_own_cert(&s->conf, &s->cert, &s->key);
	if (rc != 0) {
		char w[700];
		snprintf(w, sizeof(w), "the TLS certificate %s and key %s are not usable",
		         tls->cert, tls->key);
		tls_reason(rc, err, errcap, w);
		goto fail;
	}
	mbedtls_ssl_conf_rng(&s->conf, mbedtls_ctr_drbg_random, &s->drbg);
	mbedtls_ssl_conf_ca_chain(&s->conf, &s->ca, NULL);
	mbedtls_ssl_conf_authmode(&s->conf, MBEDTLS_SSL_VERIFY_REQUIRED);
	mbedtls_ssl_conf_min_version(&s->conf, MBEDTLS_SSL_MAJOR_VERSION_3,
	                             MBEDTLS_SSL_MINOR_VERSION_3);
	*ret = s;
	return 0;
fail:
	sp_tls_server_free(s);
	return -EINVAL;
}

static int bio_send(void *ctx, const unsigned char *buf, size_t len)
{
	struct sp_tls_conn *c = ctx;
	ssize_t n = send(c->fd, buf, len, MSG_NOSIGNAL);
	if (n >= 0)
		return (int)n;
	if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
		return MBEDTLS_ERR_SSL_WANT_WRITE;
	return MBEDTLS_ERR_NET_SEND_FAILED;
}

static int bio_recv(void *ctx, unsigned char *buf, size_t len)
{
	struct sp_tls_conn *c = ctx;
	ssize_t n = recv(c->fd, buf, len, 0);
	if (n >= 0)
		return (int)n; /* 0: the peer's end */
	if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
		return MBEDTLS_ERR_SSL_WANT_READ;
	return MBEDTLS_ERR_NET_RECV_FAILED;
}

struct sp_tls_conn *sp_tls_conn_new(struct sp_tls_server *s, int fd)
{
	struct sp_tls_conn *c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	mbedtls_ssl_init(&c->ssl);
	if (mbedtls_ssl_setup(&c->ssl, &s->conf) != 0) {
		mbedtls_ssl_free(&c->ssl);
		free(c);
		return NULL;
	}
	c->fd = fd;
	mbedtls_ssl_set_bio(&c->ssl, c, bio_send, bio_recv, NULL);
	return c;
}

void sp_tls_conn_free(struct sp_tls_conn *c)
{
	if (!c)
		return;
	mbedtls_ssl_free(&c->ssl);
	free(c);
}

static bool waits(int rc, bool *want_write)
{
	if (rc == MBEDTLS_ERR_SSL_WANT_READ) {
		*want_write = false;
		return true;
	}
	if (rc == MBEDTLS_ERR_SSL_WANT_WRITE) {
		*want_write = true;
		return true;
	}
	return false;
}

int sp_tls_handshake(struct sp_tls_conn *c, bool *want_write, char *err, size_t errcap)
{
	int rc = mbedtls_ssl_handshake(&c->ssl);
	if (rc == 0)
		return 1;
	if (waits(rc, want_write))
		return 0;
	if (rc == MBEDTLS_ERR_X509_CERT_VERIFY_FAILED)
		snprintf(err, errcap,
		         "TLS handshake: the peer's certificate does not verify against "
		         "ACEXY_CONTROL_TLS_CA");
	else
		tls_reason(rc, err, errcap, "TLS handshake");
	return -1;
}

ssize_t sp_tls_read(struct sp_tls_conn *c, void *buf, size_t cap, bool *want_write)
{
	int rc = mbedtls_ssl_read(&c->ssl, buf, cap);
	if (rc > 0)
		return rc;
	if (rc == 0 || rc == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY)
		return 0;
	if (waits(rc, want_write)) {
		errno = EAGAIN;
		return -1;
	}
	errno = EPROTO;
	return -1;
}

ssize_t sp_tls_write(struct sp_tls_conn *c, const void *buf, size_t len, bool *want_write)
{
	/* mbedTLS wants a write that waited repeated with the same length (it
	 * has already sealed the record and only flushes it) */
	size_t n = c->wpending ? c->wpending : len;
	int rc = mbedtls_ssl_write(&c->ssl, buf, n);
	if (rc >= 0) {
		c->wpending = 0;
		return rc;
	}
	if (waits(rc, want_write)) {
		c->wpending = n;
		errno = EAGAIN;
		return -1;
	}
	errno = EPIPE;
	return -1;
}

size_t sp_tls_pending(const struct sp_tls_conn *c)
{
	return mbedtls_ssl_get_bytes_avail(&c->ssl);
}
