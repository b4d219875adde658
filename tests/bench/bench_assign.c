/* acexy-bench-assign: controlplane assignments, timed from client
 * connections the way dataplanes ask (hello once, then assign and, untimed,
 * stream_ended to give the lease back).
 *
 *   acexy-bench-assign RUN_DIR|URL [COUNT] [CONNS] [light]
 * RUN_DIR means ipc://RUN_DIR/control.sock; a URL may be ipc://, tcp:// or
 * tls+tcp:// (token and TLS files from ACEXY_CONTROL_TOKEN and
 * ACEXY_CONTROL_TLS_CERT/_KEY/_CA). CONNS connections (default 1) each make
 * COUNT assignments at the same time, each its own dataplane instance.
 * Prints one JSON object: assignments/s in total (wall clock), p50/p99/max
 * latency in microseconds over all connections, refusals, and this
 * client's own CPU (client_core_share: cores it used over the wall clock;
 * on a 2-core machine shared with the controlplane, a share near 1 means
 * the client, not the controlplane, limits the rate).
 *
 * "light": each connection speaks nng's wire format itself over a blocking
 * socket (the SP header exchange, then length-prefixed REQ messages; over
 * tls+tcp:// inside a TLS session of mbedTLS, the library under libnng's
 * TLS, with the same certificates) instead of through libnng, whose thread
 * hand-offs make the client cost more CPU than the controlplane. The
 * controlplane sees the same bytes; this measures it with less of the
 * client on the same cores, as when the dataplanes run on other hosts. */
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/pk.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <nng/nng.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "acexy/ipc.h"
#include "acexy/proto.h"

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A connection: libnng's REQ socket, or (light) a socket speaking the wire
 * format itself. */
struct wire {
	nng_socket s;
	int fd; /* light: >= 0 */
	bool ipc;
	uint32_t reqid;
	/* light over tls+tcp:// */
	bool tls;
	mbedtls_ssl_context ssl;
	mbedtls_ssl_config conf;
	mbedtls_x509_crt ca, cert;
	mbedtls_pk_context key;
	mbedtls_entropy_context entropy;
	mbedtls_ctr_drbg_context drbg;
};

static int full(struct wire *w, void *buf, size_t n, bool wr)
{
	uint8_t *p = buf;
	int fd = w->fd;
	while (n > 0) {
		ssize_t k = w->tls ? (wr ? mbedtls_ssl_write(&w->ssl, p, n)
		                         : mbedtls_ssl_read(&w->ssl, p, n))
		                   : (wr ? write(fd, p, n) : read(fd, p, n));
		if (k <= 0)
			return -1;
		p += k;
		n -= (size_t)k;
	}
	return 0;
}

static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--, v >>= 8)
		p[i] = (uint8_t)v;
}

static int bio_send(void *ctx, const unsigned char *buf, size_t len)
{
	ssize_t n = write(*(int *)ctx, buf, len);
	return n < 0 ? MBEDTLS_ERR_SSL_INTERNAL_ERROR : (int)n;
}

static int bio_recv(void *ctx, unsigned char *buf, size_t len)
{
	ssize_t n = read(*(int *)ctx, buf, len);
	return n < 0 ? MBEDTLS_ERR_SSL_INTERNAL_ERROR : (int)n;
}

/* A TLS session as a dataplane's: its certificate, the controlplane's
 * verified against the CA (ACEXY_CONTROL_TLS_*). */
static int light_tls(struct wire *w)
{
	const char *cert = getenv("ACEXY_CONTROL_TLS_CERT"), *key = getenv("ACEXY_CONTROL_TLS_KEY"),
	           *ca = getenv("ACEXY_CONTROL_TLS_CA");
	if (!cert || !key || !ca)
		return -1;
	w->tls = true;
	mbedtls_ssl_init(&w->ssl);
	mbedtls_ssl_config_init(&w->conf);
	mbedtls_x509_crt_init(&w->ca);
	mbedtls_x509_crt_init(&w->cert);
	mbedtls_pk_init(&w->key);
	mbedtls_entropy_init(&w->entropy);
	mbedtls_ctr_drbg_init(&w->drbg);
	if (mbedtls_ctr_drbg_seed(&w->drbg, mbedtls_entropy_func, &w->entropy, NULL, 0) != 0 ||
	    mbedtls_x509_crt_parse_file(&w->ca, ca) != 0 ||
	    mbedtls_x509_crt_parse_file(&w->cert, cert) != 0 ||
	    mbedtls_pk_parse_keyfile(&w->key, key, NULL) != 0 ||
	    mbedtls_ssl_config_defaults(&w->conf, MBEDTLS_SSL_IS_CLIENT,
	                                MBEDTLS_SSL_TRANSPORT_STREAM,
	                                MBEDTLS_SSL_PRESET_DEFAULT) != 0 ||
	    mbedtls_ssl_conf_own_cert(&w->conf, &w->cert, &w->key) != 0)
		return -1;
	mbedtls_ssl_conf_rng(&w->conf, mbedtls_ctr_drbg_random, &w->drbg);
	mbedtls_ssl_conf_ca_chain(&w->conf, &w->ca, NULL);
	mbedtls_ssl_conf_authmode(&w->conf, MBEDTLS_SSL_VERIFY_REQUIRED);
	if (mbedtls_ssl_setup(&w->ssl, &w->conf) != 0)
		return -1;
	mbedtls_ssl_set_bio(&w->ssl, &w->fd, bio_send, bio_recv, NULL);
	return mbedtls_ssl_handshake(&w->ssl) == 0 ? 0 : -1;
}

static void light_close(struct wire *w)
{
	if (w->tls) {
		mbedtls_ssl_close_notify(&w->ssl);
		mbedtls_ssl_free(&w->ssl);
		mbedtls_ssl_config_free(&w->conf);
		mbedtls_x509_crt_free(&w->ca);
		mbedtls_x509_crt_free(&w->cert);
		mbedtls_pk_free(&w->key);
		mbedtls_ctr_drbg_free(&w->drbg);
		mbedtls_entropy_free(&w->entropy);
	}
	close(w->fd);
}

/* Connects and exchanges the SP headers (we are REQ0, 0x30; the peer must
 * be REP0, 0x31). */
static int light_open(const char *url, struct wire *w)
{
	bool tls = strncmp(url, "tls+tcp://", 10) == 0;
	if (tls)
		url += 4; /* "tcp://..." */
	w->ipc = strncmp(url, "ipc://", 6) == 0;
	if (w->ipc) {
		struct sockaddr_un sa = {.sun_family = AF_UNIX};
		snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", url + 6);
		w->fd = socket(AF_UNIX, SOCK_STREAM, 0);
		if (w->fd < 0 || connect(w->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
			return -1;
	} else {
		char host[256], *port;
		if (strncmp(url, "tcp://", 6) != 0)
			return -1;
		snprintf(host, sizeof(host), "%s", url + 6);
		port = strrchr(host, ':');
		if (!port)
			return -1;
		*port++ = '\0';
		if (host[0] == '[') {
			memmove(host, host + 1, strlen(host));
			host[strcspn(host, "]")] = '\0';
		}
		struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai;
		if (getaddrinfo(host, port, &hints, &ai) != 0)
			return -1;
		w->fd = socket(ai->ai_family, SOCK_STREAM, 0);
		int rc = w->fd < 0 ? -1 : connect(w->fd, ai->ai_addr, ai->ai_addrlen);
		freeaddrinfo(ai);
		if (rc < 0)
			return -1;
		int one = 1;
		setsockopt(w->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		if (tls && light_tls(w) < 0)
			return -1;
	}
	uint8_t hdr[8] = {0, 'S', 'P', 0, 0x00, 0x30, 0, 0}, peer[8];
	if (full(w, hdr, 8, true) < 0 || full(w, peer, 8, false) < 0 || peer[1] != 'S' ||
	    peer[2] != 'P' || peer[4] != 0x00 || peer[5] != 0x31)
		return -1;
	w->reqid = 1;
	return 0;
}

/* One request and its reply: [ipc: 0x01] 8-byte length, the 4-byte
 * request id (top bit set), the body; the reply carries the same id. */
static int light_call(struct wire *w, const uint8_t *buf, size_t len, uint8_t **rb, size_t *rl)
{
	uint8_t hdr[13], id[4];
	size_t h = 0;
	uint32_t rid = 0x80000000u | (w->reqid++ & 0x7fffffffu);
	if (w->ipc)
		hdr[h++] = 1;
	put64(hdr + h, len + 4);
	h += 8;
	for (int i = 0; i < 4; i++)
		id[i] = (uint8_t)(rid >> (24 - 8 * i));
	size_t want = h + 4 + len;
	uint8_t *one = malloc(want); /* one write, as a dataplane's */
	if (!one)
		return -1;
	memcpy(one, hdr, h);
	memcpy(one + h, id, 4);
	memcpy(one + h + 4, buf, len);
	int rc = full(w, one, want, true);
	free(one);
	if (rc < 0)
		return -1;
	for (;;) {
		uint64_t n = 0;
		if (full(w, hdr, h, false) < 0 || (w->ipc && hdr[0] != 1))
			return -1;
		for (size_t i = w->ipc ? 1 : 0; i < h; i++)
			n = n << 8 | hdr[i];
		if (n < 4 || n > PROTO_MSG_MAX + 4)
			return -1;
		uint8_t *m = malloc(n);
		if (!m || full(w, m, n, false) < 0) {
			free(m);
			return -1;
		}
		if (memcmp(m, id, 4) != 0) { /* a stale reply: not ours */
			free(m);
			continue;
		}
		memmove(m, m + 4, n - 4);
		*rb = m;
		*rl = n - 4;
		return 0;
	}
}

static int call(struct wire *w, enum proto_type t, uint64_t id, const void *body,
                struct proto_msg *ret)
{
	uint8_t *buf;
	size_t len;
	int rc = proto_encode(t, id, body, &buf, &len);
	if (rc < 0)
		return rc;
	if (w->fd >= 0) {
		uint8_t *rb = NULL;
		size_t rl = 0;
		rc = light_call(w, buf, len, &rb, &rl);
		free(buf);
		if (rc < 0)
			return -1;
		char err[256];
		rc = proto_decode(rb, rl, PROTO_CP_TO_DP, ret, err, sizeof(err));
		free(rb);
		return rc;
	}
	nng_socket s = w->s;
	rc = nng_send(s, buf, len, 0);
	free(buf);
	if (rc != 0)
		return -1;
	char *rb = NULL;
	size_t rl = 0;
	if (nng_recv(s, &rb, &rl, NNG_FLAG_ALLOC) != 0)
		return -1;
	char err[256];
	rc = proto_decode((const uint8_t *)rb, rl, PROTO_CP_TO_DP, ret, err, sizeof(err));
	nng_free(rb, rl);
	return rc;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

struct conn {
	pthread_t th;
	int idx, n;
	const char *url;
	bool light;
	double *lat; /* n entries */
	int ok, refused, failed;
};

static pthread_barrier_t start_line;

static void *run_conn(void *arg)
{
	struct conn *c = arg;
	struct ipc_tls tls = {.cert = getenv("ACEXY_CONTROL_TLS_CERT"),
	                      .key = getenv("ACEXY_CONTROL_TLS_KEY"),
	                      .ca = getenv("ACEXY_CONTROL_TLS_CA")};
	const char *token = getenv("ACEXY_CONTROL_TOKEN");
	char err[300], inst[32];
	struct wire w = {.fd = -1};
	snprintf(inst, sizeof(inst), "bench-assign-%d", c->idx);
	if (c->light) {
		if (light_open(c->url, &w) < 0) {
			fprintf(stderr, "cannot connect to %s (light)\n", c->url);
			c->failed = 1;
			pthread_barrier_wait(&start_line);
			return NULL;
		}
		struct timeval tv = {.tv_sec = 10};
		setsockopt(w.fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	} else if (ipc_client_open_tls(c->url, -1, &tls, &w.s, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s\n", err);
		c->failed = 1;
		pthread_barrier_wait(&start_line);
		return NULL;
	} else {
		nng_socket_set_ms(w.s, NNG_OPT_RECVTIMEO, 10000);
		nng_socket_set_ms(w.s, NNG_OPT_SENDTIMEO, 10000);
	}
	struct proto_msg m;
	uint64_t id = 1;
	struct proto_hello hello = {.instance = inst, .software = "bench", .token = token};
	if (call(&w, PROTO_HELLO, id++, &hello, &m) < 0 || m.type != PROTO_HELLO_REPLY) {
		fprintf(stderr, "hello failed (a wrong ACEXY_CONTROL_TOKEN?)\n");
		c->failed = 1;
		pthread_barrier_wait(&start_line);
		return NULL;
	}
	proto_msg_clear(&m);
	pthread_barrier_wait(&start_line);
	for (int i = 0; i < c->n; i++) {
		char key[48];
		snprintf(key, sizeof(key), "bench%d_%d", c->idx, i);
		struct proto_assign assign = {
		        .instance = inst, .key_type = "content_id", .key = key, .params = ""};
		double t0 = now();
		if (call(&w, PROTO_ASSIGN, id++, &assign, &m) < 0) {
			fprintf(stderr, "assign %d failed\n", i);
			c->failed = 1;
			break;
		}
		double dt = now() - t0;
		if (m.type != PROTO_LEASE) {
			c->refused++;
			proto_msg_clear(&m);
			continue;
		}
		c->lat[c->ok++] = dt;
		struct proto_stream_ended end = {
		        .instance = inst, .lease = m.lease.lease, .reason = "client_gone"};
		proto_msg_clear(&m);
		if (call(&w, PROTO_STREAM_ENDED, id++, &end, &m) < 0) {
			c->failed = 1;
			break;
		}
		proto_msg_clear(&m);
	}
	if (w.fd >= 0)
		light_close(&w);
	else
		nng_close(w.s);
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: acexy-bench-assign RUN_DIR|URL [COUNT] [CONNS] [light]\n");
		return 2;
	}
	int n = argc > 2 ? atoi(argv[2]) : 5000;
	int nconn = argc > 3 ? atoi(argv[3]) : 1;
	bool light = argc > 4 && strcmp(argv[4], "light") == 0;
	if (n < 1 || nconn < 1 || nconn > 256) {
		fprintf(stderr, "COUNT and CONNS (1-256) must be positive\n");
		return 2;
	}
	char url[600];
	if (strstr(argv[1], "://"))
		snprintf(url, sizeof(url), "%s", argv[1]);
	else
		snprintf(url, sizeof(url), "ipc://%s/control.sock", argv[1]);
	struct conn *cs = calloc((size_t)nconn, sizeof(*cs));
	double *all = calloc((size_t)n * (size_t)nconn, sizeof(double));
	if (!cs || !all)
		return 1;
	pthread_barrier_init(&start_line, NULL, (unsigned)nconn + 1);
	for (int i = 0; i < nconn; i++) {
		cs[i] = (struct conn){
		        .idx = i, .n = n, .url = url, .lat = all + (size_t)i * n, .light = light};
		pthread_create(&cs[i].th, NULL, run_conn, &cs[i]);
	}
	pthread_barrier_wait(&start_line);
	double t0 = now();
	struct rusage ru0, ru1;
	getrusage(RUSAGE_SELF, &ru0);
	int ok = 0, refused = 0, failed = 0;
	for (int i = 0; i < nconn; i++) {
		pthread_join(cs[i].th, NULL);
		refused += cs[i].refused;
		failed += cs[i].failed;
	}
	double wall = now() - t0;
	getrusage(RUSAGE_SELF, &ru1);
	double cpu = (double)(ru1.ru_utime.tv_sec - ru0.ru_utime.tv_sec) +
	             (double)(ru1.ru_stime.tv_sec - ru0.ru_stime.tv_sec) +
	             (double)(ru1.ru_utime.tv_usec - ru0.ru_utime.tv_usec) / 1e6 +
	             (double)(ru1.ru_stime.tv_usec - ru0.ru_stime.tv_usec) / 1e6;
	/* gather every connection's latencies */
	for (int i = 0; i < nconn; i++) {
		memmove(all + ok, cs[i].lat, (size_t)cs[i].ok * sizeof(double));
		ok += cs[i].ok;
	}
	qsort(all, (size_t)ok, sizeof(double), cmp);
	printf("{\"url\":\"%s\",\"client\":\"%s\",\"connections\":%d,\"assignments\":%d,"
	       "\"refused\":%d,"
	       "\"per_s\":%.0f,\"p50_us\":%.1f,\"p99_us\":%.1f,\"max_us\":%.1f,"
	       "\"client_core_share\":%.2f}\n",
	       strncmp(url, "ipc://", 6) == 0 ? "ipc" : url, light ? "light" : "libnng", nconn, ok,
	       refused, ok / (wall > 0 ? wall : 1), ok ? all[ok / 2] * 1e6 : 0,
	       ok ? all[(int)((ok - 1) * 0.99)] * 1e6 : 0, ok ? all[ok - 1] * 1e6 : 0,
	       cpu / (wall > 0 ? wall : 1));
	free(all);
	free(cs);
	return failed ? 1 : 0;
}
