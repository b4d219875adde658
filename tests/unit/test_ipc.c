/* proto/ipc.c's server: every request on one connection is answered, also
 * when many replies queue behind each other on it (rep0 sends one at a time
 * per connection; a queued reply's context waits for its next request only
 * once the reply is out), with few server contexts, twice in a row; a peer
 * that does not read its replies does not keep the loop busy, and is
 * answered in full once it reads. */
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

static void raw_replies(int fd, int n)
{
	static uint8_t buf[BIG + 4];
	for (int i = 0; i < n; i++) {
		uint8_t h[9];
		io(fd, h, sizeof(h), false);
		assert_int_equal(h[0], 1);
		uint64_t len = 0;
		for (int k = 1; k < 9; k++)
			len = len << 8 | h[k];
		assert_int_equal(len, BIG + 4);
		io(fd, buf, (size_t)len, false);
	}
}

static void run_for(struct ev_loop *loop, double s)
{
	ev_timer t;
	ev_timer_init(&t, on_timeout, s, 0.0);
	ev_timer_start(loop, &t);
	ev_run(loop, 0);
	ev_timer_stop(loop, &t);
}

static void test_peer_not_reading(void **state)
{
	(void)state;
	char dir[] = "/tmp/acexy-test-ipc-XXXXXX", url[200];
	assert_non_null(mkdtemp(dir));
	snprintf(url, sizeof(url), "ipc://%s/s.sock", dir);
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	struct ipc_server *srv;
	assert_int_equal(ipc_server_open(loop, url, 4, true, on_big, NULL, &srv), 0);
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/s.sock", dir);
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	struct timeval tv = {.tv_sec = 10};
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	uint8_t hdr[8] = {0, 'S', 'P', 0, 0x00, 0x30, 0, 0}, peer[8];
	io(fd, hdr, 8, true);
	io(fd, peer, 8, false);
	assert_int_equal(peer[5], 0x31); /* rep0 */
	/* four requests, no reads: the first reply fills the socket, three wait */
	for (uint32_t i = 1; i <= 4; i++)
		raw_request(fd, i);
	run_for(loop, 0.5);
	assert_int_equal(big_served, 4);
	unsigned it0 = ev_iteration(loop);
	run_for(loop, 1.0);
	/* backed off to 10 polls a second, plus the listener watchdog's tick;
	 * a poll every millisecond would be ~1000 */
	assert_true(ev_iteration(loop) - it0 < 40);
	raw_replies(fd, 4); /* sent by nng's threads as we read */
	/* the contexts are free again: more requests than contexts */
	for (uint32_t i = 5; i <= 12; i++) {
		raw_request(fd, i);
		run_for(loop, 0.2);
		raw_replies(fd, 1);
	}
	assert_int_equal(big_served, 12);
	close(fd);
	ipc_server_close(srv);
	ev_loop_destroy(loop);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {cmocka_unit_test(test_queued_replies),
	                                   cmocka_unit_test(test_peer_not_reading)};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
