/* The lease table: create, find, resend lookup, remove, rebuild from a
 * hello, ids never reused, and lookups that stay O(1) with 32,000 leases. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "controlplane/lease.h"

static struct cp_lease *make(struct lease_table *t, const char *instance, uint64_t req,
                             const char *container_id)
{
	struct lease_spec s = {.instance = instance,
	                       .key_type = "content_id",
	                       .key = "abc",
	                       .scheme = "http",
	                       .host = "127.0.0.1",
	                       .container_id = container_id,
	                       .port = 6878,
	                       .fallback = container_id[0] == '\0',
	                       .assign_req = req};
	return lease_create(t, &s, 10.0);
}

static void test_create_find_remove(void **state)
{
	(void)state;
	struct lease_table t;
	lease_table_init(&t);
	struct cp_lease *a = make(&t, "dp1", 5, "c1");
	struct cp_lease *b = make(&t, "dp1", 6, "c1");
	struct cp_lease *c = make(&t, "dp2", 5, "");
	assert_non_null(a);
	assert_int_equal(a->id, 1);
	assert_int_equal(c->id, 3);
	assert_int_equal(t.count, 3);
	assert_ptr_equal(t.head, c); /* newest first */
	assert_ptr_equal(lease_find(&t, 2), b);
	assert_null(lease_find(&t, 99));
	assert_string_equal(b->key, "abc");
	assert_int_equal(b->state, LEASE_ASSIGNED);
	/* a resend of dp2's request 5 finds its lease, not dp1's */
	assert_ptr_equal(lease_find_request(&t, "dp2", 5), c);
	assert_ptr_equal(lease_find_request(&t, "dp1", 5), a);
	assert_null(lease_find_request(&t, "dp3", 5));
	assert_int_equal(lease_count_on(&t, "c1"), 2);
	assert_int_equal(lease_count_on(&t, ""), 0); /* the fallback is no orchestrator engine */
	assert_int_equal(lease_count_on(&t, "c2"), 0);
	lease_remove(&t, b);
	assert_int_equal(lease_count_on(&t, "c1"), 1);
	assert_null(lease_find(&t, 2));
	assert_int_equal(t.count, 2);
	assert_ptr_equal(t.head, c);
	assert_ptr_equal(c->next, a);
	assert_ptr_equal(a->prev, c);
	lease_remove(&t, c);
	lease_remove(&t, a);
	assert_null(t.head);
	assert_int_equal(lease_count_on(&t, "c1"), 0);
	/* ids are never reused */
	struct cp_lease *d = make(&t, "dp1", 7, "");
	assert_int_equal(d->id, 4);
	json_t *j = lease_json(d, 12.5);
	assert_int_equal(json_integer_value(json_object_get(j, "id")), 4);
	assert_true(json_is_null(json_object_get(j, "engine_status")));
	assert_true(json_real_value(json_object_get(j, "age_s")) == 2.5);
	json_decref(j);
	lease_table_clear(&t);
	assert_int_equal(make(&t, "dp1", 8, "")->id, 5);
	lease_table_clear(&t);
}

static void test_rebuild(void **state)
{
	(void)state;
	struct lease_table t;
	lease_table_init(&t);
	struct proto_stream s = {.lease = 40,
	                         .key_type = "content_id",
	                         .key = "k",
	                         .scheme = "http",
	                         .host = "h",
	                         .port = 1,
	                         .container_id = "c",
	                         .playback_session_id = "ps",
	                         .stat_url = "su",
	                         .command_url = "cu",
	                         .bytes = 9,
	                         .viewers = 2,
	                         .is_live = true};
	struct cp_lease *l = lease_rebuild(&t, "dp", &s, 1.0);
	assert_non_null(l);
	assert_int_equal(l->id, 40);
	assert_int_equal(l->state, LEASE_STARTED);
	assert_string_equal(l->command_url, "cu");
	assert_int_equal(l->viewers, 2);
	assert_null(lease_rebuild(&t, "dp", &s, 1.0)); /* known */
	s.lease = 0;
	assert_null(lease_rebuild(&t, "dp", &s, 1.0));   /* no id */
	assert_int_equal(make(&t, "dp", 1, "")->id, 41); /* above every live id */
	lease_table_clear(&t);
}

static double mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A hello of 32,000 streams, then as many lookups: linear in total (a
 * list walk per lookup took seconds). Generous bound for a loaded box. */
static void test_many(void **state)
{
	(void)state;
	enum { N = 32000 };
	struct lease_table t;
	lease_table_init(&t);
	double t0 = mono();
	for (uint64_t i = 1; i <= N; i++) {
		char cid[16];
		snprintf(cid, sizeof(cid), "c%u", (unsigned)(i % 500)); /* 500 engines */
		struct proto_stream s = {.lease = i * 3, .key = "", .key_type = ""};
		s.scheme = s.host = s.playback_session_id = s.stat_url = s.command_url = "";
		s.container_id = cid;
		assert_non_null(lease_rebuild(&t, "dp", &s, 0));
	}
	for (uint64_t i = 1; i <= N; i++) {
		assert_non_null(lease_find(&t, i * 3));
		assert_null(lease_find(&t, i * 3 + 1));
	}
	for (uint64_t i = 1; i <= N; i += 2)
		lease_remove(&t, lease_find(&t, i * 3));
	assert_int_equal(t.count, N / 2);
	unsigned total = 0;
	for (unsigned e = 0; e < 500; e++) {
		char cid[16];
		snprintf(cid, sizeof(cid), "c%u", e);
		total += lease_count_on(&t, cid); /* O(1) each: no walk of 16,000 leases */
	}
	assert_int_equal(total, N / 2);
	double took = mono() - t0;
	if (took > 1.0)
		fail_msg("32,000 leases took %.2f s", took);
	lease_table_clear(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_create_find_remove),
	        cmocka_unit_test(test_rebuild),
	        cmocka_unit_test(test_many),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
