/* proto/ipc_server.c: every request on one connection is answered, also
 * when many more than the server's per-connection limit (nctx) come at once
 * from a libnng REQ socket, twice in a row; a peer that does not read its
 * replies does not keep the loop busy, and is answered in full once it
 * reads; what is not a REQ peer (a wrong header, an oversized message, no
 * request id) is dropped and costs nothing after; an answer to a peer gone
 * meanwhile goes nowhere. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "acexy/ipc.h"

#define CALLS 300

struct st {
	struct ev_loop *loop;
	int served, answered, failed;
	uint32_t seen[CALLS];
};

static void on_request(void *ud, struct ipc_req *req, const uint8_t *buf, size_t len)
{
	struct st *st = ud;
	st->served++;
	ipc_reply(req, buf, len); /* echo */
}

static void on_reply(void *ud, int err, const uint8_t *buf, size_t len)
{
	struct st *st = *(struct st **)ud;
	uint32_t i;
	if (err != 0 || len != sizeof(i)) {
		st->failed++;
	} else {
		memcpy(&i, buf, sizeof(i));
		if (i < CALLS)
			st->seen[i]++;
		st->answered++;
	}
	if (st->answered + st->failed == CALLS)
		ev_break(st->loop, EVBREAK_ALL);
}

static void on_timeout(struct ev_loop *loop, ev_timer *t, int revents)
{
	(void)t;
	(void)revents;
	ev_break(loop, EVBREAK_ALL);
}

static void test_queued_replies(void **state)
{
	(void)state;
	char dir[] = "/tmp/acexy-test-ipc-XXXXXX", url[200];
	assert_non_null(mkdtemp(dir));
	snprintf(url, sizeof(url), "ipc://%s/s.sock", dir);
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct st st = {.loop = loop};
	struct st *stp = &st;
	struct ipc_server *srv;
	assert_int_equal(ipc_server_open(loop, url, 4, true, on_request, &st, &srv), 0);
	struct ipc_mailbox *mb;
	assert_int_equal(ipc_mailbox_new(loop, &mb), 0);
	nng_socket c;
	assert_int_equal(ipc_client_open(url, -1, &c), 0);
	ev_timer guard;
	ev_timer_init(&guard, on_timeout, 20.0, 0.0);
	ev_timer_start(loop, &guard);
	for (int round = 0; round < 2; round++) {
		st.answered = st.failed = 0;
		memset(st.seen, 0, sizeof(st.seen));
		for (uint32_t i = 0; i < CALLS; i++)
			assert_int_equal(ipc_call(c, mb, &i, sizeof(i), 15000, on_reply, &stp), 0);
		ev_run(loop, 0);
		assert_int_equal(st.failed, 0);
		assert_int_equal(st.answered, CALLS);
		for (int i = 0; i < CALLS; i++)
			assert_int_equal(st.seen[i], 1);
	}
	assert_int_equal(st.served, 2 * CALLS);
	ev_timer_stop(loop, &guard);
	nng_close(c);
	ipc_server_close(srv);
	ipc_mailbox_free(mb);
	ev_loop_destroy(loop);
	rmdir(dir);
}

#define BIG (256 * 1024) /* more than a unix socket buffers */

static int big_served;

static void on_big(void *ud, struct ipc_req *req, const uint8_t *buf, size_t len)
{
	(void)ud;
	(void)buf;
	(void)len;
	static uint8_t big[BIG];
	big_served++;
	ipc_reply(req, big, sizeof(big));
}

static void io(int fd, void *buf, size_t n, bool wr)
{
	uint8_t *p = buf;
	while (n > 0) {
		ssize_t k = wr ? write(fd, p, n) : read(fd, p, n);
		assert_true(k > 0);
		p += k;
		n -= (size_t)k;
	}
}

/* nng's ipc:// framing: 0x01, 8-byte length, 4-byte request id, body */
static void raw_request(int fd, uint32_t id)
{
	uint8_t m[13 + 1] = {1, 0, 0, 0, 0, 0, 0, 0, 5};
	m[9] = (uint8_t)(0x80 | id >> 24);
	m[10] = (uint8_t)(id >> 16);
	m[11] = (uint8_t)(id >> 8);
	m[12] = (uint8_t)id;
	m[13] = 0xc0; /* the body: msgpack nil */
	io(fd, m, sizeof(m), true);
}

/* Reads `want` bytes from fd while the server's loop runs (at most about
 * 10 s). */
static void read_on_loop(struct ev_loop *loop, int fd, uint8_t *buf, size_t want)
{
	size_t got = 0;
	for (int spins = 0; got < want; spins++) {
		assert_true(spins < 200000);
		ev_run(loop, EVRUN_NOWAIT);
		ssize_t k = recv(fd, buf + got, want - got, MSG_DONTWAIT);
		if (k > 0)
			got += (size_t)k;
		else
			usleep(50);
	}
}

/* Reads n replies of `size` body bytes (request id included). */
static void raw_replies_sized(struct ev_loop *loop, int fd, int n, size_t size)
{
	static uint8_t buf[BIG + 4];
	for (int i = 0; i < n; i++) {
		uint8_t h[9];
		read_on_loop(loop, fd, h, sizeof(h));
		assert_int_equal(h[0], 1);
		uint64_t len = 0;
		for (int j = 1; j < 9; j++)
			len = len << 8 | h[j];
		assert_int_equal(len, size);
		read_on_loop(loop, fd, buf, (size_t)len);
	}
}

static void raw_replies(struct ev_loop *loop, int fd, int n)
{
	raw_replies_sized(loop, fd, n, BIG + 4);
}

static void run_for(struct ev_loop *loop, double s)
{
	ev_timer t;
	ev_timer_init(&t, on_timeout, s, 0.0);
	ev_timer_start(loop, &t);
	ev_run(loop, 0);
	ev_timer_stop(loop, &t);
}

/* A server on a socket of its own temp dir, on a loop of its own. */
struct fx {
	char dir[64];
	struct ev_loop *loop;
	struct ipc_server *srv;
};

static void fx_open(struct fx *x, int nctx, ipc_request_fn cb)
{
	char url[200];
	snprintf(x->dir, sizeof(x->dir), "/tmp/acexy-test-ipc-XXXXXX");
	assert_non_null(mkdtemp(x->dir));
	snprintf(url, sizeof(url), "ipc://%s/s.sock", x->dir);
	x->loop = ev_loop_new(EVFLAG_AUTO);
	assert_int_equal(ipc_server_open(x->loop, url, nctx, true, cb, NULL, &x->srv), 0);
}

static void fx_close(struct fx *x)
{
	ipc_server_close(x->srv);
	ev_loop_destroy(x->loop);
	rmdir(x->dir);
}

static void test_peer_not_reading(void **state)
{
	(void)state;
	struct fx x;
	fx_open(&x, 4, on_big);
	struct ev_loop *loop = x.loop;
	const char *dir = x.dir;
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/s.sock", dir);
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	struct timeval tv = {.tv_sec = 10};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	uint8_t hdr[8] = {0, 'S', 'P', 0, 0x00, 0x30, 0, 0}, peer[8];
	io(fd, hdr, 8, true);
	read_on_loop(loop, fd, peer, 8); /* accepted and answered on the loop */
	assert_int_equal(peer[5], 0x31); /* rep0 */
	/* four requests, no reads: the first reply fills the socket, three wait */
	for (uint32_t i = 1; i <= 4; i++)
		raw_request(fd, i);
	run_for(loop, 0.5);
	assert_int_equal(big_served, 4);
	unsigned it0 = ev_iteration(loop);
	run_for(loop, 1.0);
	/* nothing to do while the peer does not read: the loop sleeps */
	assert_true(ev_iteration(loop) - it0 < 5);
	raw_replies(loop, fd, 4);
	/* more requests than the limit at once: read as answers leave */
	for (uint32_t i = 5; i <= 12; i++)
		raw_request(fd, i);
	raw_replies(loop, fd, 8);
	assert_int_equal(big_served, 12);
	close(fd);
	fx_close(&x);
}

static int raw_connect(const char *dir, bool send_header)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/s.sock", dir);
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	if (send_header) {
		uint8_t hdr[8] = {0, 'S', 'P', 0, 0x00, 0x30, 0, 0};
		io(fd, hdr, 8, true);
	}
	return fd;
}

/* Whether the server hangs up on fd within a second (its 8-byte header
 * read and dropped on the way). */
static bool closed_by_server(struct ev_loop *loop, int fd)
{
	uint8_t b[64];
	for (int spins = 0; spins < 20000; spins++) {
		ev_run(loop, EVRUN_NOWAIT);
		ssize_t k = recv(fd, b, sizeof(b), MSG_DONTWAIT);
		if (k == 0 || (k < 0 && errno != EAGAIN))
			return true;
		usleep(50);
	}
	return false;
}

/* A peer that connects, sends these bytes and must be dropped. */
static void dropped(struct ev_loop *loop, const char *dir, bool header, const void *bytes, size_t n)
{
	int fd = raw_connect(dir, header);
	io(fd, (void *)bytes, n, true);
	assert_true(closed_by_server(loop, fd));
	close(fd);
}

static struct ipc_req *held;

static void on_hold(void *ud, struct ipc_req *req, const uint8_t *buf, size_t len)
{
	(void)ud;
	if (len == 1 && buf[0] == 0xc0) {
		ipc_reply(req, buf, len);
		return;
	}
	held = req; /* answered later */
}

static void test_refused_peers(void **state)
{
	(void)state;
	struct fx x;
	fx_open(&x, 4, on_hold);
	struct ev_loop *loop = x.loop;
	const char *dir = x.dir;
	/* a second server on a live socket file is refused */
	struct ipc_server *two;
	char url[200];
	snprintf(url, sizeof(url), "ipc://%s/s.sock", dir);
	assert_int_equal(ipc_server_open(loop, url, 4, true, on_hold, NULL, &two), -EADDRINUSE);
	/* not an SP header; a REP peer, not a REQ one; an oversized message
	 * (refused on its length alone); no request id (no word with its top
	 * bit set); a wrong ipc:// message type */
	dropped(loop, dir, false, "GET / HTTP/1.1\r\n\r\n", 18);
	dropped(loop, dir, false, (uint8_t[]){0, 'S', 'P', 0, 0x00, 0x31, 0, 0}, 8);
	dropped(loop, dir, true, (uint8_t[]){1, 0, 0, 0, 0, 0x10, 0, 0, 0}, 9);
	dropped(loop, dir, true, (uint8_t[]){1, 0, 0, 0, 0, 0, 0, 0, 4, 0, 0, 0, 1}, 13);
	dropped(loop, dir, true, (uint8_t[]){7, 0, 0, 0, 0, 0, 0, 0, 0}, 9);
	/* a request whose peer leaves before its answer: the answer goes
	 * nowhere (ASan sees any use of the gone connection) */
	int fd = raw_connect(dir, true);
	uint8_t m[13 + 2] = {1, 0, 0, 0, 0, 0, 0, 0, 6, 0x80, 0, 0, 9, 0x92, 0xc0};
	io(fd, m, sizeof(m), true);
	for (int i = 0; i < 2000 && !held; i++) {
		ev_run(loop, EVRUN_NOWAIT);
		usleep(100);
	}
	assert_non_null(held);
	uint32_t pipe = ipc_req_pipe(held);
	char addr[64];
	assert_true(ipc_pipe_addr(pipe, addr, sizeof(addr)));
	assert_string_equal(addr, "ipc");
	close(fd);
	run_for(loop, 0.2);
	assert_false(ipc_pipe_addr(pipe, addr, sizeof(addr)));
	ipc_reply(held, "x", 1);
	/* and a good peer is served after all that */
	fd = raw_connect(dir, true);
	uint8_t peer[8];
	read_on_loop(loop, fd, peer, 8);
	raw_request(fd, 42);
	raw_replies_sized(loop, fd, 1, 5);
	close(fd);
	fx_close(&x);
}

struct flood {
	int fd;
	volatile bool stop;
	size_t sent;
};

static void *flood_writer(void *arg)
{
	struct flood *f = arg;
	static uint8_t buf[14 * 4096];
	for (size_t i = 0; i < 4096; i++) {
		uint8_t m[14] = {1, 0, 0, 0, 0, 0, 0, 0, 5, 0x80, 0, 0, 1, 0xc0};
		memcpy(buf + 14 * i, m, sizeof(m));
	}
	/* blocking (woken as soon as the server frees room, so that it keeps
	 * up with the server's reads), with a short timeout to see f->stop */
	struct timeval tv = {.tv_usec = 20000};
	setsockopt(f->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	while (!f->stop) {
		ssize_t k = send(f->fd, buf, sizeof(buf), MSG_NOSIGNAL);
		if (k > 0)
			f->sent += (size_t)k;
		else if (k < 0 && errno != EAGAIN && errno != EINTR)
			break;
	}
	return NULL;
}

/* A peer that sends requests as fast as it can and never reads its
 * answers: the loop still turns, another peer is answered at once, and the
 * flooder is read no further once its unread answers pile up. */
static void test_flood_does_not_freeze_the_loop(void **state)
{
	(void)state;
	struct fx x;
	fx_open(&x, 64, on_hold);
	struct ev_loop *loop = x.loop;
	const char *dir = x.dir;
	struct flood f = {.fd = raw_connect(dir, true)};
	pthread_t th;
	assert_int_equal(pthread_create(&th, NULL, flood_writer, &f), 0);
	double longest = 0;
	for (int i = 0; i < 50; i++) { /* each turn must come back soon */
		struct timespec a, b;
		clock_gettime(CLOCK_MONOTONIC, &a);
		ev_run(loop, EVRUN_NOWAIT);
		clock_gettime(CLOCK_MONOTONIC, &b);
		double d = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
		longest = d > longest ? d : longest;
		usleep(1000);
	}
	fprintf(stderr, "longest turn %.1f ms, %zu bytes sent\n", longest * 1e3, f.sent);
	assert_true(longest < 0.5);
	int good = raw_connect(dir, true);
	uint8_t peer[8];
	read_on_loop(loop, good, peer, 8);
	raw_request(good, 7);
	raw_replies_sized(loop, good, 1, 5);
	/* the flooder stopped being read: what it sent stays bounded */
	run_for(loop, 0.5);
	size_t sent = f.sent;
	run_for(loop, 0.5);
	assert_true(f.sent - sent < 1024 * 1024);
	/* in all: about OUT_HIGH (4 MiB) of answers' worth of requests and the
	 * socket buffers; a read that took all the flooder sent ran past it */
	assert_true(f.sent < 8 * 1024 * 1024);
	f.stop = true;
	pthread_join(th, NULL);
	close(f.fd);
	close(good);
	fx_close(&x);
}

int main(void)
{
	const struct CMUnitTest tests[] = {cmocka_unit_test(test_queued_replies),
	                                   cmocka_unit_test(test_peer_not_reading),
	                                   cmocka_unit_test(test_refused_peers),
	                                   cmocka_unit_test(test_flood_does_not_freeze_the_loop)};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
