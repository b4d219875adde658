#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "acexy/log.h"
#include "controlplane/debuglog.h"

/* ---- helpers ------------------------------------------------------------ */

static char tmp_root[64];

/* snprintf into an array, failing the test when it does not fit */
#define PATHF(buf, ...) assert_true(snprintf((buf), sizeof(buf), __VA_ARGS__) < (int)sizeof(buf))

static void rm_rf(const char *path)
{
	struct stat st;
	if (lstat(path, &st) < 0)
		return;
	if (S_ISDIR(st.st_mode)) {
		chmod(path, 0700);
		DIR *dir = opendir(path);
		struct dirent *e;
		while (dir && (e = readdir(dir)) != NULL) {
			if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
				continue;
			char sub[PATH_MAX];
			PATHF(sub, "%s/%s", path, e->d_name);
			rm_rf(sub);
		}
		if (dir)
			closedir(dir);
		rmdir(path);
	} else {
		unlink(path);
	}
}

static int setup(void **state)
{
	(void)state;
	snprintf(tmp_root, sizeof(tmp_root), "/tmp/acexy-debuglog-XXXXXX");
	if (!mkdtemp(tmp_root))
		return -1;
	umask(022);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	rm_rf(tmp_root);
	return 0;
}

static void path_in(char *buf, size_t cap, const char *rel)
{
	assert_true(snprintf(buf, cap, "%s/%s", tmp_root, rel) < (int)cap);
}

static bool exists(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0;
}

static off_t file_size(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 ? st.st_size : -1;
}

static char *slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	long n = ftell(f);
	fseek(f, 0, SEEK_SET);
	char *buf = malloc((size_t)n + 1);
	assert_non_null(buf);
	assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

/* Every line of the file must be a complete JSON object of `cat`; returns
 * the number of lines, and the last record in *ret_last (may be NULL). */
static size_t check_lines(const char *path, enum debuglog_cat cat, json_t **ret_last)
{
	char *text = slurp(path);
	assert_non_null(text);
	size_t n = 0, len = strlen(text);
	if (len)
		assert_int_equal(text[len - 1], '\n');
	json_t *last = NULL;
	for (char *save = NULL, *line = strtok_r(text, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		json_error_t err;
		json_t *j = json_loads(line, 0, &err);
		if (!j)
			fail_msg("%s: bad line %zu: %s (%s)", path, n + 1, line, err.text);
		const char *p = debuglog_record_problem(cat, j);
		if (p)
			fail_msg("%s: %s in %s", path, p, line);
		/* ts: 2025-01-02T03:04:05.678Z */
		const char *ts = json_string_value(json_object_get(j, "ts"));
		assert_int_equal(strlen(ts), 24);
		assert_int_equal(ts[10], 'T');
		assert_int_equal(ts[19], '.');
		assert_int_equal(ts[23], 'Z');
		json_decref(last);
		last = j;
		n++;
	}
	if (ret_last)
		*ret_last = last;
	else
		json_decref(last);
	free(text);
	return n;
}

/* stderr goes to a file while a test looks at what was logged */
static int saved_stderr = -1;
static char log_path[PATH_MAX];

static void capture_log_start(void)
{
	assert_int_equal(alog_init("test_debuglog", ALOG_INFO, ALOG_TEXT), 0);
	alog_flush();
	path_in(log_path, sizeof(log_path), "stderr.log");
	int fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	saved_stderr = dup(STDERR_FILENO);
	dup2(fd, STDERR_FILENO);
	close(fd);
}

static char *capture_log_stop(void)
{
	alog_flush();
	dup2(saved_stderr, STDERR_FILENO);
	close(saved_stderr);
	saved_stderr = -1;
	return slurp(log_path);
}

static size_t count_str(const char *hay, const char *needle)
{
	size_t n = 0;
	for (const char *p = hay; (p = strstr(p, needle)) != NULL; p += strlen(needle))
		n++;
	return n;
}

static double fake_now;
static double fake_clock(void)
{
	return fake_now;
}

/* ---- tests -------------------------------------------------------------- */

static void test_null_handle(void **state)
{
	(void)state;
	assert_false(debuglog_enabled(NULL));
	debuglog_write(NULL, DEBUGLOG_ERRORS, "x", json_pack("{s:s}", "error", "e"));
	debuglog_flush(NULL);
	debuglog_set_clock(NULL, fake_clock);
	struct debuglog_counters c;
	memset(&c, 0xff, sizeof(c));
	debuglog_counters(NULL, &c);
	assert_int_equal(c.records_written, 0);
	assert_int_equal(c.records_dropped, 0);
	assert_false(c.unwritable);
	debuglog_close(NULL);
}

static void test_disabled(void **state)
{
	(void)state;
	char dir[PATH_MAX];
	path_in(dir, sizeof(dir), "off/logs");
	struct debuglog *d = (struct debuglog *)1;
	assert_int_equal(debuglog_open(&d, NULL, dir, false, 0, 0), 0);
	assert_null(d);
	assert_false(debuglog_enabled(d));
	debuglog_write(d, DEBUGLOG_SESSION, "controlplane_started", json_object());
	debuglog_close(d);
	path_in(dir, sizeof(dir), "off");
	assert_false(exists(dir));
	assert_int_equal(debuglog_open(&d, NULL, "", true, 0, 0), -EINVAL);
}

static json_t *sample_fields(enum debuglog_cat cat)
{
	switch (cat) {
	case DEBUGLOG_SESSION:
		return json_pack("{s:s, s:s, s:s, s:{s:s, s:b}}", "mode", "orchestrator", "version",
		                 "1.0", "instance", "cp-1", "settings", "orch_url", "http://o",
		                 "fallback", 1);
	case DEBUGLOG_REQUESTS:
		return json_pack("{s:s, s:s, s:s, s:s, s:I, s:f}", "instance", "dp-1", "key_type",
		                 "id", "key", "abc", "outcome", "lease", "lease", (json_int_t)42,
		                 "wait_ms", 0.75);
	case DEBUGLOG_ENGINE_SELECTION:
		return json_pack("{s:I, s:s, s:[{s:s, s:s, s:i, s:s, s:i, s:b, s:f, s:b, s:s}], "
		                 "s:s, s:s, s:i, s:f}",
		                 "lease", (json_int_t)42, "key", "abc", "candidates",
		                 "container_id", "c1", "host", "10.0.0.1", "port", 6878, "health",
		                 "healthy", "load", 0, "forwarded", 1, "last_usage", 0.0,
		                 "eligible", 1, "why", "least loaded", "winner", "c1", "why",
		                 "only free engine", "max_per_engine", 1, "took_ms", 0.01);
	case DEBUGLOG_PROVISIONING:
		return json_pack("{s:i, s:i, s:s, s:s, s:f, s:b, s:b}", "attempt", 2, "http_status",
		                 503, "code", "vpn_down", "message", "VPN \"x\" down", "eta_s",
		                 30.0, "can_retry", 1, "should_wait", 1);
	case DEBUGLOG_FAILOVER:
		return json_pack("{s:s, s:s, s:I, s:s, s:s, s:s, s:i, s:s}", "instance", "dp-1",
		                 "key", "abc", "lease", (json_int_t)42, "reason", "stall",
		                 "old_engine", "127.0.0.1:6878", "engine", "127.0.0.1:6879",
		                 "failovers", 1, "why", "no engine data for 10.0s");
	case DEBUGLOG_ORCHESTRATOR_HEALTH:
		return json_pack("{s:s, s:s, s:n}", "from", "healthy", "to", "degraded", "error");
	case DEBUGLOG_STREAMS:
		return json_pack("{s:I, s:s, s:s, s:I, s:f, s:s}", "lease", (json_int_t)42,
		                 "stream_id", "s-1", "engine", "10.0.0.1:6878", "bytes",
		                 (json_int_t)1 << 40, "duration_ms", 1234.5, "reason",
		                 "client_gone");
	case DEBUGLOG_DISCONNECTS:
		return json_pack("{s:s, s:i, s:f}", "instance", "dp-1", "streams", 3, "silent_s",
		                 5.5);
	case DEBUGLOG_ERRORS:
		return json_pack("{s:s, s:s, s:s}", "error", "bad json", "where", "orch_status",
		                 "detail", "line 1\n\ttab \xc3\xa9");
	case DEBUGLOG_STRESS:
		return json_pack("{s:f, s:f, s:s}", "took_ms", 250.0, "threshold_ms", 100.0, "key",
		                 "abc");
	case DEBUGLOG_CAT_COUNT:
		break;
	}
	return NULL;
}

static void test_records_every_category(void **state)
{
	(void)state;
	char dir[PATH_MAX];
	path_in(dir, sizeof(dir), "a/b/logs"); /* parents made too */
	struct debuglog *d = NULL;
	assert_int_equal(debuglog_open(&d, NULL, dir, true, 0, 0), 0);
	assert_true(debuglog_enabled(d));
	struct stat st;
	assert_int_equal(stat(dir, &st), 0);
	assert_true(S_ISDIR(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0750);

	for (int i = 0; i < DEBUGLOG_CAT_COUNT; i++) {
		char event[32];
		PATHF(event, "ev_%d", i);
		debuglog_write(d, (enum debuglog_cat)i, event, sample_fields((enum debuglog_cat)i));
	}
	/* NULL fields; and fields' own ts/category/event do not win */
	debuglog_write(d, DEBUGLOG_ERRORS, "bare", NULL);
	debuglog_write(d, DEBUGLOG_ERRORS, "mine",
	               json_pack("{s:s, s:s, s:s, s:s}", "ts", "x", "category", "session", "event",
	                         "other", "error", "e"));
	/* not an object, bad category, no event: dropped */
	debuglog_write(d, DEBUGLOG_ERRORS, "bad", json_integer(1));
	debuglog_write(d, DEBUGLOG_CAT_COUNT, "bad", NULL);
	debuglog_write(d, DEBUGLOG_ERRORS, NULL, NULL);
	/* nothing reaches the disk before a flush */
	char path[PATH_MAX];
	PATHF(path, "%s/session.jsonl", dir);
	assert_false(exists(path));
	debuglog_flush(d);

	for (int i = 0; i < DEBUGLOG_CAT_COUNT; i++) {
		enum debuglog_cat cat = (enum debuglog_cat)i;
		PATHF(path, "%s/%s.jsonl", dir, debuglog_cat_name(cat));
		json_t *last = NULL;
		size_t n = check_lines(path, cat, &last);
		assert_int_equal(n, cat == DEBUGLOG_ERRORS ? 3 : 1);
		assert_string_equal(json_string_value(json_object_get(last, "category")),
		                    debuglog_cat_name(cat));
		if (cat == DEBUGLOG_ERRORS) {
			assert_string_equal(json_string_value(json_object_get(last, "event")),
			                    "mine");
			assert_string_equal(json_string_value(json_object_get(last, "error")), "e");
			assert_int_equal(json_string_length(json_object_get(last, "ts")), 24);
		} else {
			char event[32];
			PATHF(event, "ev_%d", i);
			assert_string_equal(json_string_value(json_object_get(last, "event")),
			                    event);
			/* the given fields, with their values */
			json_t *want = sample_fields(cat);
			const char *k;
			json_t *v;
			json_object_foreach(want, k, v)
			{
				assert_true(json_equal(json_object_get(last, k), v));
			}
			json_decref(want);
		}
		json_decref(last);
		assert_true(file_size(path) > 0);
	}
	/* the first line starts with ts, category, event */
	PATHF(path, "%s/requests.jsonl", dir);
	char *text = slurp(path);
	assert_int_equal(strncmp(text, "{\"ts\":\"", 7), 0);
	assert_non_null(
	        strstr(text, "Z\",\"category\":\"requests\",\"event\":\"ev_1\",\"instance\""));
	free(text);

	struct debuglog_counters c;
	debuglog_counters(d, &c);
	assert_int_equal(c.records_written, DEBUGLOG_CAT_COUNT + 2);
	assert_int_equal(c.records_dropped, 3);
	assert_int_equal(c.write_errors, 0);
	assert_false(c.unwritable);
	debuglog_close(d);
	/* files are only made for categories that had records; no strays */
	DIR *dh = opendir(dir);
	struct dirent *e;
	size_t files = 0;
	while ((e = readdir(dh)) != NULL)
		if (e->d_name[0] != '.')
			files++;
	closedir(dh);
	assert_int_equal(files, DEBUGLOG_CAT_COUNT);
}

static void test_rotation(void **state)
{
	(void)state;
	char dir[PATH_MAX], path[PATH_MAX];
	path_in(dir, sizeof(dir), "rot");
	struct debuglog *d = NULL;
	assert_int_equal(debuglog_open(&d, NULL, dir, true, 300, 2), 0);
	for (int i = 0; i < 40; i++) {
		debuglog_write(d, DEBUGLOG_STREAMS, "ended",
		               json_pack("{s:I}", "bytes", (json_int_t)i));
		if (i % 7 == 0)
			debuglog_flush(d); /* rotation both within and across flushes */
	}
	debuglog_close(d);
	size_t total = 0;
	json_t *last = NULL;
	for (int g = 0; g <= 2; g++) {
		if (g == 0)
			PATHF(path, "%s/streams.jsonl", dir);
		else
			PATHF(path, "%s/streams.jsonl.%d", dir, g);
		assert_true(exists(path));
		assert_true(file_size(path) <= 300);
		json_t *l = NULL;
		total += check_lines(path, DEBUGLOG_STREAMS, &l);
		if (g == 0)
			last = l;
		else
			json_decref(l);
	}
	PATHF(path, "%s/streams.jsonl.3", dir);
	assert_false(exists(path));
	assert_true(total > 5 && total < 40);
	/* the newest record is in the current file */
	assert_int_equal(json_integer_value(json_object_get(last, "bytes")), 39);
	json_decref(last);

	/* a file left larger than the limit is rotated before it grows */
	assert_int_equal(debuglog_open(&d, NULL, dir, true, 100, 2), 0);
	debuglog_write(d, DEBUGLOG_STREAMS, "ended", NULL);
	debuglog_flush(d);
	struct debuglog_counters c;
	debuglog_counters(d, &c);
	assert_int_equal(c.rotations, 1);
	debuglog_close(d);
	PATHF(path, "%s/streams.jsonl", dir);
	assert_int_equal(check_lines(path, DEBUGLOG_STREAMS, NULL), 1);
}

static void test_buffer_cap(void **state)
{
	(void)state;
	char dir[PATH_MAX];
	path_in(dir, sizeof(dir), "cap");
	struct debuglog *d = NULL;
	assert_int_equal(debuglog_open(&d, NULL, dir, true, 0, 0), 0);
	char *big = malloc(100000);
	assert_non_null(big);
	memset(big, 'x', 99999);
	big[99999] = '\0';
	for (int i = 0; i < 20; i++)
		debuglog_write(d, DEBUGLOG_ERRORS, "big", json_pack("{s:s}", "detail", big));
	struct debuglog_counters c;
	debuglog_counters(d, &c);
	/* a record is ~100,070 bytes: 10 fit in DEBUGLOG_BUFFER_MAX */
	assert_int_equal(c.records_dropped, 10);
	/* other categories have their own room */
	debuglog_write(d, DEBUGLOG_SESSION, "controlplane_stopped", NULL);
	debuglog_flush(d);
	debuglog_counters(d, &c);
	assert_int_equal(c.records_written + c.records_dropped, 21);
	assert_int_equal(c.records_written, 11);
	/* after a flush the room is back */
	debuglog_write(d, DEBUGLOG_ERRORS, "big", json_pack("{s:s}", "detail", big));
	debuglog_close(d);
	free(big);
}

static void test_unwritable_dir(void **state)
{
	(void)state;
	char dir[PATH_MAX], blocker[PATH_MAX], path[PATH_MAX];
	bool root = geteuid() == 0;
	if (root) {
		/* root writes through a 0500 directory: use a parent that is a file */
		path_in(blocker, sizeof(blocker), "blocker");
		FILE *f = fopen(blocker, "w");
		assert_non_null(f);
		fclose(f);
		PATHF(dir, "%s/logs", blocker);
	} else {
		path_in(dir, sizeof(dir), "ro");
		assert_int_equal(mkdir(dir, 0500), 0);
	}
	capture_log_start();
	fake_now = 1000;
	struct debuglog *d = NULL;
	assert_int_equal(debuglog_open(&d, NULL, dir, true, 0, 0), 0);
	assert_non_null(d);
	debuglog_set_clock(d, fake_clock);
	for (int round = 0; round < 3; round++) {
		if (round)
			fake_now += 40; /* past the retry interval: it tries, fails again */
		for (int i = 0; i < DEBUGLOG_CAT_COUNT; i++)
			debuglog_write(d, (enum debuglog_cat)i, "x", NULL);
		debuglog_flush(d);
	}
	struct debuglog_counters c;
	debuglog_counters(d, &c);
	assert_int_equal(c.records_written, 0);
	assert_int_equal(c.records_dropped, 3 * DEBUGLOG_CAT_COUNT);
	assert_true(c.write_errors >= 2);
	assert_true(c.unwritable);

	/* repaired: the next attempt after the retry interval writes again */
	if (root) {
		assert_int_equal(unlink(blocker), 0);
		assert_int_equal(mkdir(blocker, 0700), 0);
	} else {
		assert_int_equal(chmod(dir, 0700), 0);
	}
	debuglog_write(d, DEBUGLOG_ERRORS, "dropped", NULL); /* retry not due yet */
	debuglog_flush(d);
	fake_now += 31;
	debuglog_write(d, DEBUGLOG_ERRORS, "back", NULL);
	debuglog_flush(d);
	debuglog_counters(d, &c);
	assert_int_equal(c.records_written, 1);
	assert_false(c.unwritable);
	debuglog_close(d);
	PATHF(path, "%s/errors.jsonl", dir);
	assert_int_equal(check_lines(path, DEBUGLOG_ERRORS, NULL), 1);

	char *log = capture_log_stop();
	assert_non_null(log);
	assert_int_equal(count_str(log, "debug_log_unwritable"), 1);
	assert_int_equal(count_str(log, "debug_log_writable"), 1);
	assert_non_null(strstr(log, root ? "Not a directory" : "Permission denied"));
	free(log);
}

static void test_full_disk(void **state)
{
	(void)state;
	/* RLIMIT_FSIZE stands in for a full disk (EFBIG instead of ENOSPC),
	 * including a write cut short in the middle of a line. */
	char dir[PATH_MAX], path[PATH_MAX];
	path_in(dir, sizeof(dir), "full");
	struct rlimit old, lim;
	assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
	void (*old_sig)(int) = signal(SIGXFSZ, SIG_IGN);
	capture_log_start(); /* before the limit: the log file must stay writable */
	struct debuglog *d = NULL;
	assert_int_equal(debuglog_open(&d, NULL, dir, true, 0, 0), 0);
	fake_now = 0;
	debuglog_set_clock(d, fake_clock);
	lim = old;
	lim.rlim_cur = 1000;
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
	for (int i = 0; i < 40; i++)
		debuglog_write(d, DEBUGLOG_STREAMS, "ended",
		               json_pack("{s:I, s:s}", "bytes", (json_int_t)i, "reason", "x"));
	debuglog_flush(d);
	for (int i = 0; i < 5; i++)
		debuglog_write(d, DEBUGLOG_STREAMS, "ended", NULL); /* dropped at once */
	debuglog_flush(d);
	assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
	signal(SIGXFSZ, old_sig);

	struct debuglog_counters c;
	debuglog_counters(d, &c);
	assert_true(c.records_written > 0);
	assert_int_equal(c.records_written + c.records_dropped, 45);
	assert_int_equal(c.write_errors, 1);
	assert_true(c.unwritable);
	PATHF(path, "%s/streams.jsonl", dir);
	assert_true(file_size(path) <= 1000);
	/* no torn line left behind */
	assert_int_equal(check_lines(path, DEBUGLOG_STREAMS, NULL), c.records_written);
	debuglog_close(d);
	char *log = capture_log_stop();
	assert_int_equal(count_str(log, "debug_log_unwritable"), 1);
	assert_non_null(strstr(log, "File too large"));
	free(log);
}

static void test_torn_line_repaired(void **state)
{
	(void)state;
	char dir[PATH_MAX], path[PATH_MAX];
	path_in(dir, sizeof(dir), "torn");
	assert_int_equal(mkdir(dir, 0750), 0);
	PATHF(path, "%s/stress.jsonl", dir);
	FILE *f = fopen(path, "w");
	fputs("{\"ts\":\"2025-01-02T03:04:05.678Z\",\"category\":\"stress\",\"event\":\"x\"}\n{"
	      "\"ts",
	      f);
	fclose(f);
	struct debuglog *d = NULL;
	assert_int_equal(debuglog_open(&d, NULL, dir, true, 0, 0), 0);
	debuglog_write(d, DEBUGLOG_STRESS, "slow_selection", json_pack("{s:f}", "took_ms", 5.0));
	debuglog_close(d);
	char *text = slurp(path);
	char *last = strrchr(text, '{');
	assert_non_null(strstr(text, "}\n{\"ts\n{\"ts\":"));
	json_t *j = json_loads(last, 0, NULL);
	assert_non_null(j);
	assert_null(debuglog_record_problem(DEBUGLOG_STRESS, j));
	json_decref(j);
	free(text);
}

static void test_symlink_not_followed(void **state)
{
	(void)state;
	char dir[PATH_MAX], path[PATH_MAX], target[PATH_MAX];
	path_in(dir, sizeof(dir), "links");
	path_in(target, sizeof(target), "elsewhere");
	assert_int_equal(mkdir(dir, 0750), 0);
	PATHF(path, "%s/errors.jsonl", dir);
	assert_int_equal(symlink(target, path), 0);
	capture_log_start();
	struct debuglog *d = NULL;
	assert_int_equal(debuglog_open(&d, NULL, dir, true, 0, 0), 0);
	debuglog_write(d, DEBUGLOG_ERRORS, "x", NULL);
	debuglog_close(d);
	free(capture_log_stop());
	assert_false(exists(target));
}

static void test_timer_flush(void **state)
{
	(void)state;
	char dir[PATH_MAX], path[PATH_MAX];
	path_in(dir, sizeof(dir), "timer");
	struct ev_loop *loop = ev_loop_new(EVFLAG_AUTO);
	assert_non_null(loop);
	struct debuglog *d = NULL;
	assert_int_equal(debuglog_open(&d, loop, dir, true, 0, 0), 0);
	debuglog_write(d, DEBUGLOG_SESSION, "controlplane_started", NULL);
	PATHF(path, "%s/session.jsonl", dir);
	assert_false(exists(path));
	ev_tstamp t0 = ev_time();
	ev_run(loop, 0); /* returns once the one-shot flush timer has run */
	assert_true(ev_time() - t0 >= DEBUGLOG_FLUSH_S * 0.9);
	assert_int_equal(check_lines(path, DEBUGLOG_SESSION, NULL), 1);
	/* and it is armed again by the next record */
	debuglog_write(d, DEBUGLOG_SESSION, "controlplane_stopped", NULL);
	ev_run(loop, 0);
	assert_int_equal(check_lines(path, DEBUGLOG_SESSION, NULL), 2);
	debuglog_close(d);
	ev_loop_destroy(loop);
}

static void test_text(void **state)
{
	(void)state;
	const char *in = "ok \xc3\xa9 \xff bad \xed\xa0\x80 \xe2\x82";
	json_t *j = debuglog_text(in, strlen(in));
	assert_non_null(j);
	assert_string_equal(json_string_value(j),
	                    "ok \xc3\xa9 \xef\xbf\xbd bad \xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"
	                    " \xef\xbf\xbd\xef\xbf\xbd");
	json_decref(j);
	j = debuglog_text(NULL, 0);
	assert_true(json_is_null(j));
	json_decref(j);
	char *big = malloc(DEBUGLOG_TEXT_MAX + 10);
	memset(big, 'a', DEBUGLOG_TEXT_MAX + 10);
	big[DEBUGLOG_TEXT_MAX - 2] = '\xc3'; /* a 2-byte character straddling the cut */
	big[DEBUGLOG_TEXT_MAX - 1] = '\xa9';
	j = debuglog_text(big, DEBUGLOG_TEXT_MAX + 10);
	assert_int_equal(json_string_length(j), DEBUGLOG_TEXT_MAX);
	json_decref(j);
	memset(big, 'a', DEBUGLOG_TEXT_MAX + 10);
	big[DEBUGLOG_TEXT_MAX - 1] = '\xc3';
	big[DEBUGLOG_TEXT_MAX] = '\xa9';
	j = debuglog_text(big, DEBUGLOG_TEXT_MAX + 10);
	assert_int_equal(json_string_length(j), DEBUGLOG_TEXT_MAX - 1);
	json_decref(j);
	free(big);
}

static void test_record_problem(void **state)
{
	(void)state;
	json_t *r = json_pack("{s:s, s:s, s:s, s:I, s:[{s:s, s:i}]}", "ts", "t", "category",
	                      "engine_selection", "event", "selected", "lease", (json_int_t)1,
	                      "candidates", "container_id", "c", "port", 1);
	assert_null(debuglog_record_problem(DEBUGLOG_ENGINE_SELECTION, r));
	assert_non_null(debuglog_record_problem(DEBUGLOG_STREAMS, r)); /* wrong category */
	json_object_set_new(json_array_get(json_object_get(r, "candidates"), 0), "port",
	                    json_string("x"));
	assert_non_null(strstr(debuglog_record_problem(DEBUGLOG_ENGINE_SELECTION, r),
	                       "candidates[]: field port is not integer"));
	json_object_del(json_array_get(json_object_get(r, "candidates"), 0), "port");
	json_object_set_new(r, "lease", json_string("1"));
	assert_non_null(debuglog_record_problem(DEBUGLOG_ENGINE_SELECTION, r));
	json_object_set_new(r, "lease", json_null()); /* null always fits */
	assert_null(debuglog_record_problem(DEBUGLOG_ENGINE_SELECTION, r));
	json_object_set_new(r, "nope", json_true());
	assert_non_null(strstr(debuglog_record_problem(DEBUGLOG_ENGINE_SELECTION, r),
	                       "undeclared field nope"));
	json_decref(r);
}

static void test_doc_lists_everything(void **state)
{
	(void)state;
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	assert_non_null(f);
	assert_int_equal(debuglog_write_doc(f), 0);
	fclose(f);
	char needle[128];
#define CHECK_FIELD_(n, t, h)                                                                      \
	PATHF(needle, "| `%s` | %s | ", n, t);                                                     \
	assert_non_null(strstr(buf, needle));
#define CHECK_CAT_(id, name, events, help, fields)                                                 \
	assert_non_null(strstr(buf, "\n## " name "\n"));                                           \
	assert_non_null(strstr(buf, "File `" name ".jsonl`"));                                     \
	fields(CHECK_FIELD_)
	ACEXY_DEBUGLOG_CATEGORIES(CHECK_CAT_)
	ACEXY_DEBUGLOG_COMMON_FIELDS(CHECK_FIELD_)
	ACEXY_DEBUGLOG_FIELDS_CANDIDATE(CHECK_FIELD_)
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_null_handle),
	        cmocka_unit_test_setup_teardown(test_disabled, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_records_every_category, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_rotation, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_buffer_cap, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_unwritable_dir, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_full_disk, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_torn_line_repaired, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_symlink_not_followed, setup, teardown),
	        cmocka_unit_test_setup_teardown(test_timer_flush, setup, teardown),
	        cmocka_unit_test(test_text),
	        cmocka_unit_test(test_record_problem),
	        cmocka_unit_test(test_doc_lists_everything),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
