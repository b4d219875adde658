/* proto/ipc.c's server: every request on one connection is answered, also
 * when many replies queue behind each other on it (rep0 sends one at a time
 * per connection; a queued reply's context waits for its next request only
 * once the reply is out), with few server contexts, twice in a row. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

int main(void)
{
	const struct CMUnitTest tests[] = {cmocka_unit_test(test_queued_replies)};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
