/* acexy-bench-assign: controlplane assignments over control.sock, timed
 * from a client process the way a dataplane asks (hello once, then assign
 * and, untimed, stream_ended to give the lease back).
 *
 *   acexy-bench-assign RUN_DIR [COUNT]
 * Prints one JSON object: assignments/s (assign round trips only), p50/p99
 * latency in microseconds, refusals. */
#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

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

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: acexy-bench-assign RUN_DIR [COUNT]\n");
		return 2;
	}
	int n = argc > 2 ? atoi(argv[2]) : 5000;
	char url[600];
	snprintf(url, sizeof(url), "ipc://%s/control.sock", argv[1]);
	nng_socket s;
	if (nng_req0_open(&s) != 0 || nng_dial(s, url, NULL, 0) != 0) {
		fprintf(stderr, "cannot reach %s\n", url);
		return 1;
	}
	nng_socket_set_ms(s, NNG_OPT_RECVTIMEO, 10000);
	nng_socket_set_ms(s, NNG_OPT_SENDTIMEO, 10000);
	nng_socket_set_ms(s, NNG_OPT_REQ_RESENDTIME, NNG_DURATION_INFINITE);
	const char *inst = "bench-assign";
	struct proto_msg m;
	uint64_t id = 1;
	struct proto_hello hello = {.instance = inst, .software = "bench"};
	if (call(s, PROTO_HELLO, id++, &hello, &m) < 0) {
		fprintf(stderr, "hello failed\n");
		return 1;
	}
	proto_msg_clear(&m);
	double *lat = calloc((size_t)n, sizeof(double));
	double total = 0;
	int refused = 0, ok = 0;
	for (int i = 0; i < n; i++) {
		char key[32];
		snprintf(key, sizeof(key), "bench%d", i);
		double t0 = now();
		struct proto_assign assign = {
		        .instance = inst, .key_type = "content_id", .key = key, .params = ""};
		if (call(s, PROTO_ASSIGN, id++, &assign, &m) < 0) {
			fprintf(stderr, "assign %d failed\n", i);
			return 1;
		}
		double dt = now() - t0;
		lat[ok] = dt;
		total += dt;
		if (m.type != PROTO_LEASE) {
			refused++;
			proto_msg_clear(&m);
			continue;
		}
		ok++;
		struct proto_stream_ended end = {
		        .instance = inst, .lease = m.lease.lease, .reason = "client_gone"};
		proto_msg_clear(&m);
		if (call(s, PROTO_STREAM_ENDED, id++, &end, &m) < 0)
			return 1;
		proto_msg_clear(&m);
	}
	qsort(lat, (size_t)ok, sizeof(double), cmp);
	printf("{\"assignments\":%d,\"refused\":%d,\"per_s\":%.0f,\"p50_us\":%.1f,\"p99_us\":%.1f,"
	       "\"max_us\":%.1f}\n",
	       ok, refused, ok / (total > 0 ? total : 1), ok ? lat[ok / 2] * 1e6 : 0,
	       ok ? lat[(int)((ok - 1) * 0.99)] * 1e6 : 0, ok ? lat[ok - 1] * 1e6 : 0);
	nng_close(s);
	return 0;
}
