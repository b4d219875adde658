/* Who is on the control socket: a hello handled before nng's "added" event
 * (nng receives on a pipe before that event reaches the loop) leaves the
 * connection bound, and the unbound-connection timeout does not close it;
 * a connection that never says hello is closed; a hello from a pipe whose
 * removal came first is forgotten. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "controlplane/cp_peers.h"

static void test_hello_before_added_stays_bound(void **state)
{
	(void)state;
	struct cp_peers *p;
	assert_int_equal(cp_peers_new(&p), 0);
	cp_peers_bind(p, 7, 100.0); /* the hello, handled first */
	cp_peers_added(p, 7, 100.1);
	assert_true(cp_peers_bound(p, 7));
	assert_int_equal(cp_peers_count(p), 1);
	/* well past CP_PEERS_UNBOUND_S: nothing closed, still bound */
	assert_int_equal(cp_peers_expire(p, 100.0 + 3 * CP_PEERS_UNBOUND_S, CP_PEERS_UNBOUND_S), 0);
	assert_true(cp_peers_bound(p, 7));
	assert_int_equal(cp_peers_count(p), 1);
	cp_peers_removed(p, 7);
	assert_int_equal(cp_peers_count(p), 0);
	cp_peers_free(p);
}

static void test_added_then_hello_and_silent_peer(void **state)
{
	(void)state;
	struct cp_peers *p;
	assert_int_equal(cp_peers_new(&p), 0);
	cp_peers_added(p, 1, 10.0);
	cp_peers_bind(p, 1, 10.5);
	cp_peers_added(p, 2, 10.0); /* never says hello */
	assert_int_equal(cp_peers_expire(p, 10.0 + CP_PEERS_UNBOUND_S / 2, CP_PEERS_UNBOUND_S), 0);
	assert_int_equal(cp_peers_expire(p, 11.0 + CP_PEERS_UNBOUND_S, CP_PEERS_UNBOUND_S), 1);
	assert_true(cp_peers_bound(p, 1));
	assert_false(cp_peers_bound(p, 2));
	assert_int_equal(cp_peers_count(p), 2); /* 2 goes when nng says so */
	cp_peers_free(p);
}

static void test_hello_after_removal_is_forgotten(void **state)
{
	(void)state;
	struct cp_peers *p;
	assert_int_equal(cp_peers_new(&p), 0);
	cp_peers_added(p, 3, 0.0);
	cp_peers_removed(p, 3);
	cp_peers_bind(p, 3, 1.0); /* its hello, handled after the removal */
	assert_int_equal(cp_peers_count(p), 1);
	assert_int_equal(cp_peers_expire(p, 2.0 + CP_PEERS_UNBOUND_S, CP_PEERS_UNBOUND_S), 0);
	assert_int_equal(cp_peers_count(p), 0);
	assert_false(cp_peers_bound(p, 3));
	cp_peers_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_hello_before_added_stays_bound),
	        cmocka_unit_test(test_added_then_hello_and_silent_peer),
	        cmocka_unit_test(test_hello_after_removal_is_forgotten),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
