/* acexy-bench-assign: controlplane assignments, timed from client
 * connections the way dataplanes ask (hello once, then assign and, untimed,
 * stream_ended to give the lease back).
 *
 *   acexy-bench-assign RUN_DIR|URL [COUNT] [CONNS]
 * RUN_DIR means ipc://RUN_DIR/control.sock; a URL may be ipc://, tcp:// or
 * tls+tcp:// (token and TLS files from ACEXY_CONTROL_TOKEN and
 * ACEXY_CONTROL_TLS_CERT/_KEY/_CA). CONNS connections (default 1) each make
 * COUNT assignments at the same time, each its own dataplane instance.
 * Prints one JSON object: assignments/s in total (wall clock), p50/p99/max
 * latency in microseconds over all connections, refusals, and this
 * client's own CPU (client_core_share: cores it used over the wall clock;
 * on a 2-core machine shared with the controlplane, a share near 1 means
 * the client, not the controlplane, limits the rate). */
#include <nng/nng.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "acexy/ipc.h"
#include "acexy/proto.h"

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int call(nng_socket s, enum proto_type t, uint64_t id, const void *body,
                struct proto_msg *ret)
{
	uint8_t *buf;
	size_t len;
	int rc = proto_encode(t, id, body, &buf, &len);
	if (rc < 0)
		return rc;
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
	nng_socket s;
	snprintf(inst, sizeof(inst), "bench-assign-%d", c->idx);
	if (ipc_client_open_tls(c->url, -1, &tls, &s, err, sizeof(err)) < 0) {
		fprintf(stderr, "%s\n", err);
		c->failed = 1;
		pthread_barrier_wait(&start_line);
		return NULL;
	}
	nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, 10000);
	nng_socket_set_ms(s, NNG_OPT_SENDTIMEO, 10000);
	struct proto_msg m;
	uint64_t id = 1;
	struct proto_hello hello = {.instance = inst, .software = "bench", .token = token};
	if (call(s, PROTO_HELLO, id++, &hello, &m) < 0 || m.type != PROTO_HELLO_REPLY) {
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
		if (call(s, PROTO_ASSIGN, id++, &assign, &m) < 0) {
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
		if (call(s, PROTO_STREAM_ENDED, id++, &end, &m) < 0) {
			c->failed = 1;
			break;
		}
		proto_msg_clear(&m);
	}
	nng_close(s);
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: acexy-bench-assign RUN_DIR|URL [COUNT] [CONNS]\n");
		return 2;
	}
	int n = argc > 2 ? atoi(argv[2]) : 5000;
	int nconn = argc > 3 ? atoi(argv[3]) : 1;
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
		cs[i] = (struct conn){.idx = i, .n = n, .url = url, .lat = all + (size_t)i * n};
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
	printf("{\"url\":\"%s\",\"connections\":%d,\"assignments\":%d,\"refused\":%d,"
	       "\"per_s\":%.0f,\"p50_us\":%.1f,\"p99_us\":%.1f,\"max_us\":%.1f,"
	       "\"client_core_share\":%.2f}\n",
	       strncmp(url, "ipc://", 6) == 0 ? "ipc" : url, nconn, ok, refused,
	       ok / (wall > 0 ? wall : 1), ok ? all[ok / 2] * 1e6 : 0,
	       ok ? all[(int)((ok - 1) * 0.99)] * 1e6 : 0, ok ? all[ok - 1] * 1e6 : 0,
	       cpu / (wall > 0 ? wall : 1));
	free(all);
	free(cs);
	return failed ? 1 : 0;
}
