/* The hello in pieces: 2000 realistic stream records and 4096 pending ends
 * (one hello of them passes the 1 MiB message cap) go in hellos that each
 * stay within the budget, decode at the controlplane, and together carry
 * every stream and every end, also when streams come and go between
 * pieces. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dataplane/hello_chunk.h"

#define NS 2000
#define NE 4096

static char strs[NS][6][200];
static char ended_strs[NE][2][80];

static void fill_stream(struct proto_stream *s, size_t i, uint64_t lease)
{
	char(*t)[200] = strs[i];
	snprintf(t[0], 200, "%040zx", i * 7919u);
	snprintf(t[1], 200, "engine-%zu.acestream.svc.cluster.local:6878", i);
	snprintf(t[2], 200, "%064zx", i * 104729u);
	snprintf(t[3], 200, "c0ffee%058zx", i);
	snprintf(t[4], 200,
	         "http://engine-%zu.acestream.svc.cluster.local:6878/ace/stat/%040zx/%064zx", i,
	         i * 7919u, i * 104729u);
	snprintf(t[5], 200,
	         "http://engine-%zu.acestream.svc.cluster.local:6878/ace/cmd/%040zx/%064zx", i,
	         i * 7919u, i * 104729u);
	*s = (struct proto_stream){.lease = lease,
	                           .bytes = 123456789012u,
	                           .viewers = 3,
	                           .content = t[0],
	                           .engine = t[1],
	                           .playback_session_id = t[2],
	                           .key_type = "infohash",
	                           .key = t[0],
	                           .scheme = "http",
	                           .host = t[1],
	                           .port = 6878,
	                           .container_id = t[3],
	                           .stat_url = t[4],
	                           .command_url = t[5],
	                           .is_live = true,
	                           .failovers = 1};
}

static void fill_ended(struct proto_ended *e, size_t i)
{
	snprintf(ended_strs[i][0], 80, "c0ffee%058zx", i);
	snprintf(ended_strs[i][1], 80, "%064zx", i * 31u);
	*e = (struct proto_ended){.lease = 100000 + i,
	                          .reason = "client_gone",
	                          .bytes = 99999999,
	                          .duration_ms = 3600000,
	                          .container_id = ended_strs[i][0],
	                          .playback_session_id = ended_strs[i][1]};
}

/* What the dataplane used to send: all in one hello, which cannot be sent. */
static void test_one_hello_of_everything_does_not_fit(void **state)
{
	(void)state;
	struct proto_stream *s = calloc(NS, sizeof(*s));
	for (size_t i = 0; i < NS; i++)
		fill_stream(&s[i], i, i + 1);
	struct proto_hello h = {.instance = "dp1", .software = "t", .streams = s, .n_streams = NS};
	uint8_t *buf = NULL;
	size_t len = 0;
	assert_int_equal(proto_encode_hello(1, &h, &buf, &len), -E2BIG);
	free(s);
}

/* The dataplane's loop (control_glue.c): sort, skip below the cursor, send
 * a piece, drop the ends it carried, move the cursor; streams change
 * between pieces. Returns the number of pieces. */
static unsigned run_pieces(struct proto_stream *live, size_t *nlive, struct proto_ended *ended,
                           size_t nended, size_t budget, bool churn, bool *seen)
{
	uint64_t from = 0;
	size_t ended_at = 0;
	unsigned pieces = 0;
	for (;;) {
		dp_hello_sort(live, *nlive);
		size_t skip = 0;
		while (skip < *nlive && live[skip].lease < from)
			skip++;
		struct proto_hello h = {.instance = "dp1",
		                        .software = "t",
		                        .proto = 1,
		                        .streams = live + skip,
		                        .n_streams = *nlive - skip,
		                        .ended = ended + ended_at,
		                        .n_ended = nended - ended_at};
		size_t ns = 99999, ne = 99999;
		uint8_t *buf = NULL;
		size_t len = 0;
		assert_int_equal(dp_hello_encode(&h, pieces + 1, budget, &ns, &ne, &buf, &len), 0);
		pieces++;
		assert_true(ns + ne >= 1 || (h.n_streams == 0 && h.n_ended == 0));
		assert_true(len <= budget || ns + ne == 1);
		/* what the controlplane decodes */
		struct proto_msg m;
		char err[256];
		assert_int_equal(proto_decode(buf, len, PROTO_DP_TO_CP, &m, err, sizeof(err)), 0);
		assert_int_equal(m.type, PROTO_HELLO);
		assert_int_equal(m.hello.n_streams, ns);
		assert_int_equal(m.hello.n_ended, ne);
		for (size_t i = 0; i < ns; i++) {
			assert_true(m.hello.streams[i].lease < 2 * NS + 2);
			assert_string_equal(m.hello.streams[i].stat_url, live[skip + i].stat_url);
			seen[m.hello.streams[i].lease] = true;
		}
		for (size_t i = 0; i < ne; i++)
			assert_int_equal(m.hello.ended[i].lease, 100000 + ended_at + i);
		proto_msg_clear(&m);
		free(buf);
		ended_at += ne;
		bool left = skip + ns < *nlive;
		if (ns > 0)
			from = live[skip + ns - 1].lease + 1;
		if (churn && pieces == 1 && *nlive > 2) {
			/* one already sent goes, a new one comes (its lease is
			 * this controlplane's own: it needs no announcing, but is
			 * announced anyway) */
			live[0] = live[*nlive - 1];
			(*nlive)--;
			fill_stream(&live[*nlive], NS - 1, 2 * NS + 1);
			(*nlive)++;
			left = true;
		}
		if (!left && ended_at == nended)
			return pieces;
		assert_true(pieces < 10000);
	}
}

static void test_pieces_carry_everything_within_budget(void **state)
{
	(void)state;
	struct proto_stream *s = calloc(NS + 1, sizeof(*s));
	struct proto_ended *e = calloc(NE, sizeof(*e));
	/* leases in no particular order */
	for (size_t i = 0; i < NS; i++)
		fill_stream(&s[i], i, (i * 7) % NS + 1);
	for (size_t i = 0; i < NE; i++)
		fill_ended(&e[i], i);
	bool *seen = calloc(2 * NS + 2, sizeof(*seen));
	size_t n = NS;
	unsigned pieces = run_pieces(s, &n, e, NE, DP_HELLO_BUDGET, true, seen);
	assert_true(pieces >= 4); /* ~1.4 MB + ~0.9 MB of records */
	assert_true(pieces < 30);
	for (size_t l = 1; l <= NS; l++)
		assert_true(seen[l]);
	free(seen);
	free(e);
	free(s);
}

static void test_tiny_budget_one_record_each(void **state)
{
	(void)state;
	struct proto_stream s[5];
	struct proto_ended e[3];
	for (size_t i = 0; i < 5; i++)
		fill_stream(&s[i], i, 5 - i);
	for (size_t i = 0; i < 3; i++)
		fill_ended(&e[i], i);
	bool seen[2 * NS + 2] = {false};
	size_t n = 5;
	/* every record is bigger than 100 bytes: one at a time */
	assert_int_equal(run_pieces(s, &n, e, 3, 100, false, seen), 8);
	for (size_t l = 1; l <= 5; l++)
		assert_true(seen[l]);
}

static void test_empty_hello(void **state)
{
	(void)state;
	struct proto_hello h = {.instance = "dp1", .software = "t"};
	size_t ns = 9, ne = 9;
	uint8_t *buf = NULL;
	size_t len = 0;
	assert_int_equal(dp_hello_encode(&h, 1, DP_HELLO_BUDGET, &ns, &ne, &buf, &len), 0);
	assert_int_equal(ns, 0);
	assert_int_equal(ne, 0);
	assert_true(len > 0 && len < 200);
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_one_hello_of_everything_does_not_fit),
	        cmocka_unit_test(test_pieces_carry_everything_within_budget),
	        cmocka_unit_test(test_tiny_budget_one_record_each),
	        cmocka_unit_test(test_empty_hello),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
