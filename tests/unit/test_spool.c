/* The event spool: record format, torn and damaged records, persistence
 * across reopen, compaction, the size cap and the lock. */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "controlplane/spool.h"

static char dir[256];

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/acexy-spool-XXXXXX");
	assert_non_null(mkdtemp(dir));
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
	return 0;
}

static json_t *event(int n)
{
	return json_pack("{s:s,s:i}", "kind", "started", "n", n);
}

static uint64_t got_add[16], got_done[16];
static int nadd, ndone;

static void on_add(void *ud, uint64_t seq, json_t *ev)
{
	(void)ud;
	(void)ev;
	got_add[nadd++ % 16] = seq;
}

static void on_done(void *ud, uint64_t seq)
{
	(void)ud;
	got_done[ndone++ % 16] = seq;
}

static void test_format_and_parse(void **state)
{
	(void)state;
	size_t l1, l2;
	json_t *e = event(1);
	char *a = spool_format_add(5, e, &l1);
	char *d = spool_format_done(5, &l2);
	json_decref(e);
	assert_non_null(a);
	assert_int_equal(a[l1 - 1], '\n');
	char buf[1024];
	snprintf(buf, sizeof(buf), "%s%s", a, d);
	struct spool_parse_stats st;
	nadd = ndone = 0;
	spool_parse(buf, strlen(buf), on_add, on_done, NULL, &st);
	assert_int_equal(st.added, 1);
	assert_int_equal(st.done, 1);
	assert_int_equal(st.bad, 0);
	assert_false(st.torn_tail);
	assert_int_equal(got_add[0], 5);
	assert_int_equal(got_done[0], 5);
	/* a torn last record: everything before it still counts */
	nadd = ndone = 0;
	spool_parse(buf, strlen(buf) - 3, on_add, on_done, NULL, &st);
	assert_int_equal(st.added, 1);
	assert_int_equal(st.done, 0);
	assert_int_equal(st.bad, 1);
	assert_true(st.torn_tail);
	/* a damaged record in the middle (one flipped byte): skipped, the
	 * rest read */
	buf[25] ^= 0x01;
	nadd = ndone = 0;
	spool_parse(buf, strlen(buf), on_add, on_done, NULL, &st);
	assert_int_equal(st.added, 0);
	assert_int_equal(st.done, 1);
	assert_int_equal(st.bad, 1);
	/* right checksum, wrong shape */
	const char *js = "{\"op\":\"add\",\"seq\":0}";
	char line[200];
	snprintf(line, sizeof(line), "%016llx %s\n", (unsigned long long)spool_hash(js, strlen(js)),
	         js);
	spool_parse(line, strlen(line), on_add, on_done, NULL, &st);
	assert_int_equal(st.bad, 1);
	free(a);
	free(d);
}

static void test_persist_reopen_compact(void **state)
{
	(void)state;
	struct spool *s;
	struct spool_pending *p;
	size_t np;
	struct spool_parse_stats st;
	char err[256];
	assert_int_equal(spool_open(dir, 1 << 20, &s, &p, &np, &st, err, sizeof(err)), 0);
	assert_int_equal(np, 0);
	for (int i = 1; i <= 10; i++) {
		json_t *e = event(i);
		assert_int_equal(spool_add(s, (uint64_t)i, e), 0);
		json_decref(e);
	}
	for (int i = 1; i <= 10; i += 2)
		assert_int_equal(spool_done(s, (uint64_t)i), 0);
	/* a second controlplane is kept out */
	struct spool *s2;
	assert_int_not_equal(spool_open(dir, 1 << 20, &s2, &p, &np, &st, err, sizeof(err)), 0);
	assert_non_null(strstr(err, "locked"));
	spool_close(s);
	/* a torn append after the last good record */
	char path[300];
	snprintf(path, sizeof(path), "%s/events.spool", dir);
	FILE *f = fopen(path, "a");
	assert_non_null(f);
	fputs("0011223344556677 {\"op\":\"add\",\"seq\":99,\"ev", f);
	fclose(f);
	assert_int_equal(spool_open(dir, 1 << 20, &s, &p, &np, &st, err, sizeof(err)), 0);
	assert_int_equal(np, 5);
	assert_true(st.torn_tail);
	assert_int_equal(st.bad, 1);
	for (size_t i = 0; i < np; i++) {
		assert_int_equal(p[i].seq, 2 * (i + 1)); /* in order */
		assert_int_equal(json_integer_value(json_object_get(p[i].event, "n")), 2 * (i + 1));
		json_decref(p[i].event);
	}
	free(p);
	/* loading compacted the file: only the 5 live records remain */
	struct stat sb;
	assert_int_equal(stat(path, &sb), 0);
	assert_int_equal((uint64_t)sb.st_size, spool_bytes(s));
	size_t want = 0;
	for (int i = 2; i <= 10; i += 2) {
		size_t one;
		json_t *e = event(i);
		char *line = spool_format_add((uint64_t)i, e, &one);
		json_decref(e);
		free(line);
		want += one;
	}
	assert_int_equal(spool_bytes(s), want);
	spool_close(s);
}

static void test_cap(void **state)
{
	(void)state;
	struct spool *s;
	struct spool_pending *p;
	size_t np;
	struct spool_parse_stats st;
	char err[256];
	assert_int_equal(spool_open(dir, 1000, &s, &p, &np, &st, err, sizeof(err)), 0);
	int added = 0, rc = 0;
	for (int i = 1; i < 100 && rc == 0; i++) {
		json_t *e = event(i);
		rc = spool_add(s, (uint64_t)i, e);
		json_decref(e);
		if (rc == 0)
			added++;
	}
	assert_int_equal(rc, -EFBIG);
	assert_true(added > 5);
	assert_true(spool_bytes(s) <= 1000);
	/* done records make room again (garbage is compacted away) */
	for (int i = 1; i <= added; i++)
		assert_int_equal(spool_done(s, (uint64_t)i), 0);
	json_t *e = event(1000);
	assert_int_equal(spool_add(s, 1000, e), 0);
	json_decref(e);
	assert_true(spool_bytes(s) <= 1000);
	spool_close(s);
}

static struct spool *reopen(struct spool_pending **p, size_t *np, struct spool_parse_stats *st)
{
	struct spool *s;
	char err[256];
	assert_int_equal(spool_open(dir, 1 << 20, &s, p, np, st, err, sizeof(err)), 0);
	return s;
}

static int add_n(struct spool *s, int n)
{
	json_t *e = event(n);
	int rc = spool_add(s, (uint64_t)n, e);
	json_decref(e);
	return rc;
}

static off_t file_size(void)
{
	char path[300];
	struct stat sb;
	snprintf(path, sizeof(path), "%s/events.spool", dir);
	assert_int_equal(stat(path, &sb), 0);
	return sb.st_size;
}

/* The file cannot grow past `bytes` (as on a full disk: writes stop
 * mid-record); RLIM_INFINITY lifts that again. */
static void file_limit(rlim_t bytes)
{
	struct rlimit rl;
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &rl), 0);
	rl.rlim_cur = bytes == RLIM_INFINITY ? rl.rlim_max : bytes;
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &rl), 0);
}

/* A write that fails mid-record leaves no torn bytes: the next good record
 * is not glued to them, and a reopen loads every record that was added. */
static void test_full_disk_truncates(void **state)
{
	(void)state;
	signal(SIGXFSZ, SIG_IGN);
	struct spool_parse_stats st;
	struct spool_pending *p;
	size_t np;
	struct spool *s = reopen(&p, &np, &st);
	for (int i = 1; i <= 3; i++)
		assert_int_equal(add_n(s, i), 0);
	off_t good = file_size();
	file_limit((rlim_t)good + 20); /* room for 20 bytes of the next record */
	assert_int_equal(add_n(s, 4), -ENOSPC);
	assert_int_equal(file_size(), good);
	assert_int_equal(add_n(s, 5), -ENOSPC);
	/* a done mark that cannot be written: rewritten from memory later */
	assert_int_equal(spool_done(s, 1), -ENOSPC);
	assert_true(spool_stale(s));
	file_limit(RLIM_INFINITY);
	assert_int_equal(spool_sync(s), 0);
	assert_false(spool_stale(s));
	assert_int_equal(add_n(s, 4), 0); /* what the caller kept in memory */
	assert_int_equal(add_n(s, 6), 0);
	assert_int_equal(add_n(s, 5), 0); /* spooled late: after 6 in the file */
	spool_close(s);
	s = reopen(&p, &np, &st);
	assert_int_equal(st.bad, 0);
	assert_false(st.torn_tail);
	assert_int_equal(np, 5);
	static const int want[] = {2, 3, 4, 5, 6}; /* by seq */
	for (size_t i = 0; i < np; i++) {
		assert_int_equal(p[i].seq, want[i]);
		json_decref(p[i].event);
	}
	free(p);
	spool_close(s);
}

static void test_unwritable_dir(void **state)
{
	(void)state;
	/* a regular file where the directory should be: a clear error */
	char path[300];
	snprintf(path, sizeof(path), "%s/file", dir);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fclose(f);
	snprintf(path, sizeof(path), "%s/file/state", dir);
	struct spool *s;
	struct spool_pending *p;
	size_t np;
	struct spool_parse_stats st;
	char err[256];
	assert_true(spool_open(path, 1 << 20, &s, &p, &np, &st, err, sizeof(err)) < 0);
	assert_non_null(strstr(err, "cannot create"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_format_and_parse),
	        cmocka_unit_test_setup_teardown(test_persist_reopen_compact, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_cap, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_full_disk_truncates, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_unwritable_dir, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
