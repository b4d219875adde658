/* JSON Lines debug logs; see debuglog.h. */
#include "controlplane/debuglog.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "acexy/clock.h"
#include "acexy/fsutil.h"
#include "acexy/log.h"
#include "acexy/utf8.h"

/* ---- the table ---------------------------------------------------------- */

struct dl_field {
	const char *name, *type, *help;
};

struct dl_cat {
	const char *name, *events, *help;
	const struct dl_field *fields;
	size_t nfields;
};

struct dl_sub {
	const char *where, *help;
	const struct dl_field *fields;
	size_t nfields;
};

#define DL_FIELD_(n, t, h) {n, t, h},
#define DL_FIELDS_(list)                                                                           \
	(const struct dl_field[]){list(DL_FIELD_)},                                                \
	        sizeof((const struct dl_field[]){list(DL_FIELD_)}) / sizeof(struct dl_field)

static const struct dl_field common_fields[] = {ACEXY_DEBUGLOG_COMMON_FIELDS(DL_FIELD_)};
#define NCOMMON (sizeof(common_fields) / sizeof(common_fields[0]))

static const struct dl_cat cats[DEBUGLOG_CAT_COUNT] = {
#define DL_CAT_(id, name, events, help, fields)                                                    \
	[DEBUGLOG_##id] = {name, events, help, DL_FIELDS_(fields)},
        ACEXY_DEBUGLOG_CATEGORIES(DL_CAT_)
#undef DL_CAT_
};

static const struct dl_sub subs[] = {
#define DL_SUB_(where, help, fields) {where, help, DL_FIELDS_(fields)},
        ACEXY_DEBUGLOG_SUBRECORDS(DL_SUB_)
#undef DL_SUB_
};
#define NSUBS (sizeof(subs) / sizeof(subs[0]))

const char *debuglog_cat_name(enum debuglog_cat cat)
{
	return (unsigned)cat < DEBUGLOG_CAT_COUNT ? cats[cat].name : "?";
}

/* ---- the writer --------------------------------------------------------- */

#define SINK_KEEP_CAP (64u << 10) /* a buffer larger than this is freed after a flush */

struct dl_sink {
	char *buf;
	size_t len, cap;
	int fd; /* -1: not open */
	uint64_t size;
};

struct debuglog {
	struct ev_loop *loop;
	ev_timer timer;
	char *dir;
	int dirfd; /* -1: not open */
	uint64_t rotate_bytes;
	unsigned keep;
	struct dl_sink sink[DEBUGLOG_CAT_COUNT];
	bool unwritable; /* dropping until retry_at */
	bool reported;   /* the failure was logged; cleared when writing works again */
	double retry_at;
	double (*now)(void);
	struct debuglog_counters c;
};

static size_t count_lines(const char *p, size_t n)
{
	size_t k = 0;
	const char *end = p + n;
	while (p < end && (p = memchr(p, '\n', (size_t)(end - p))) != NULL) {
		k++;
		p++;
	}
	return k;
}

static void close_files(struct debuglog *d)
{
	for (size_t i = 0; i < DEBUGLOG_CAT_COUNT; i++) {
		if (d->sink[i].fd >= 0)
			close(d->sink[i].fd);
		d->sink[i].fd = -1;
	}
	if (d->dirfd >= 0)
		close(d->dirfd);
	d->dirfd = -1;
}

/* Everything fails the same way for the whole directory (read-only, full),
 * so one failure stops all files until the retry: one log line, not nine. */
static void fail(struct debuglog *d, const char *op, const char *file, int e)
{
	d->c.write_errors++;
	d->unwritable = true;
	d->retry_at = d->now() + DEBUGLOG_RETRY_S;
	close_files(d);
	if (!d->reported) {
		d->reported = true;
		ALOG(ALOG_ERROR, "debug_log_unwritable", ALOG_S("dir", d->dir), ALOG_S("op", op),
		     ALOG_S("file", file), ALOG_S("error", strerror(e)),
		     ALOG_D("retry_s", DEBUGLOG_RETRY_S));
	}
}

static int open_dir(struct debuglog *d)
{
	int r = acexy_mkdir_p(d->dir, 0750);
	if (r < 0) {
		fail(d, "mkdir", "", -r);
		return r;
	}
	int fd = open(d->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		fail(d, "open", "", -r);
		return r;
	}
	d->dirfd = fd;
	return 0;
}

static void file_name(char *buf, size_t cap, enum debuglog_cat cat, unsigned gen)
{
	if (gen == 0)
		snprintf(buf, cap, "%s.jsonl", cats[cat].name);
	else
		snprintf(buf, cap, "%s.jsonl.%u", cats[cat].name, gen);
}

/* O_NOFOLLOW: a link planted in the directory must not redirect our writes. */
static int open_file(struct debuglog *d, enum debuglog_cat cat)
{
	struct dl_sink *s = &d->sink[cat];
	char name[64];
	file_name(name, sizeof(name), cat, 0);
	int fd = openat(d->dirfd, name, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0640);
	if (fd < 0) {
		int e = errno;
		fail(d, "open", name, e);
		return -e;
	}
	struct stat st;
	int e = fstat(fd, &st) < 0 ? errno : S_ISREG(st.st_mode) ? 0 : EINVAL;
	if (e) {
		close(fd);
		fail(d, "open", name, e);
		return -e;
	}
	s->fd = fd;
	s->size = (uint64_t)st.st_size;
	/* A line torn by an earlier failure (or a crash) must not swallow the
	 * next record: end it first. */
	char last;
	if (s->size > 0 && pread(fd, &last, 1, (off_t)s->size - 1) == 1 && last != '\n') {
		if (write(fd, "\n", 1) != 1) {
			e = errno ? errno : EIO;
			fail(d, "write", name, e);
			return -e;
		}
		s->size++;
	}
	return 0;
}

static int rotate(struct debuglog *d, enum debuglog_cat cat)
{
	struct dl_sink *s = &d->sink[cat];
	char from[64], to[64];
	close(s->fd);
	s->fd = -1;
	for (unsigned g = d->keep; g > 0; g--) {
		file_name(from, sizeof(from), cat, g - 1);
		file_name(to, sizeof(to), cat, g);
		if (renameat(d->dirfd, from, d->dirfd, to) < 0 && errno != ENOENT) {
			int e = errno;
			fail(d, "rename", from, e);
			return -e;
		}
	}
	d->c.rotations++;
	return 0;
}

/* Bytes from `off` that can go to the current file without passing
 * rotate_bytes, whole lines only; 0 = rotate first. */
static size_t next_chunk(const struct debuglog *d, const struct dl_sink *s, size_t off)
{
	size_t rest = s->len - off;
	if (s->size + rest <= d->rotate_bytes)
		return rest;
	uint64_t room = d->rotate_bytes > s->size ? d->rotate_bytes - s->size : 0;
	if (room > rest)
		room = rest;
	const char *nl = room ? memrchr(s->buf + off, '\n', (size_t)room) : NULL;
	if (nl)
		return (size_t)(nl - (s->buf + off)) + 1;
	if (s->size > 0)
		return 0;
	/* a single line larger than rotate_bytes gets a file of its own */
	nl = memchr(s->buf + off, '\n', rest);
	return nl ? (size_t)(nl - (s->buf + off)) + 1 : rest;
}

static size_t write_all(int fd, const char *p, size_t n, int *ret_errno)
{
	size_t done = 0;
	while (done < n) {
		ssize_t w = write(fd, p + done, n - done);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			*ret_errno = w < 0 ? errno : EIO;
			break;
		}
		done += (size_t)w;
	}
	return done;
}

static void reset_buffer(struct dl_sink *s)
{
	s->len = 0;
	if (s->cap > SINK_KEEP_CAP) {
		free(s->buf);
		s->buf = NULL;
		s->cap = 0;
	}
}

static void flush_sink(struct debuglog *d, enum debuglog_cat cat)
{
	struct dl_sink *s = &d->sink[cat];
	size_t off = 0;
	while (off < s->len && !d->unwritable) {
		if (d->dirfd < 0 && open_dir(d) < 0)
			break;
		if (s->fd < 0 && open_file(d, cat) < 0)
			break;
		size_t chunk = next_chunk(d, s, off);
		if (chunk == 0) {
			if (rotate(d, cat) < 0)
				break;
			continue;
		}
		int e = 0;
		size_t w = write_all(s->fd, s->buf + off, chunk, &e);
		if (w < chunk) {
			/* keep whole lines only: cut a torn tail off again */
			const char *nl = w ? memrchr(s->buf + off, '\n', w) : NULL;
			size_t whole = nl ? (size_t)(nl - (s->buf + off)) + 1 : 0;
			if (ftruncate(s->fd, (off_t)(s->size + whole)) == 0)
				w = whole;
			d->c.records_written += count_lines(s->buf + off, whole);
			d->c.bytes_written += w;
			s->size += w;
			off += whole;
			char name[64];
			file_name(name, sizeof(name), cat, 0);
			fail(d, "write", name, e);
			break;
		}
		d->c.records_written += count_lines(s->buf + off, chunk);
		d->c.bytes_written += chunk;
		s->size += chunk;
		off += chunk;
		if (d->reported) {
			d->reported = false;
			ALOG(ALOG_INFO, "debug_log_writable", ALOG_S("dir", d->dir));
		}
	}
	d->c.records_dropped += count_lines(s->buf + off, s->len - off);
	reset_buffer(s);
}

void debuglog_flush(struct debuglog *d)
{
	if (!d)
		return;
	if (d->loop && ev_is_active(&d->timer))
		ev_timer_stop(d->loop, &d->timer);
	if (d->unwritable && d->now() >= d->retry_at)
		d->unwritable = false; /* try again */
	for (size_t i = 0; i < DEBUGLOG_CAT_COUNT; i++)
		if (d->sink[i].len)
			flush_sink(d, (enum debuglog_cat)i);
	d->c.unwritable = d->unwritable;
}

static void flush_timer_cb(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	debuglog_flush(w->data);
}

int debuglog_open(struct debuglog **ret, struct ev_loop *loop, const char *dir, bool enabled,
                  uint64_t rotate_bytes, unsigned keep)
{
	if (!enabled) {
		*ret = NULL;
		return 0;
	}
	if (!dir || !*dir)
		return -EINVAL;
	struct debuglog *d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->dir = strdup(dir);
	if (!d->dir) {
		free(d);
		return -ENOMEM;
	}
	d->loop = loop;
	d->dirfd = -1;
	for (size_t i = 0; i < DEBUGLOG_CAT_COUNT; i++)
		d->sink[i].fd = -1;
	d->rotate_bytes = rotate_bytes ? rotate_bytes : DEBUGLOG_ROTATE_BYTES_DEFAULT;
	d->keep = keep ? keep : DEBUGLOG_KEEP_DEFAULT;
	d->now = acexy_now;
	ev_timer_init(&d->timer, flush_timer_cb, DEBUGLOG_FLUSH_S, 0.);
	d->timer.data = d;
	/* made now so that a bad directory shows at start, not at the first record */
	open_dir(d);
	d->c.unwritable = d->unwritable;
	*ret = d;
	return 0;
}

void debuglog_close(struct debuglog *d)
{
	if (!d)
		return;
	debuglog_flush(d);
	close_files(d);
	for (size_t i = 0; i < DEBUGLOG_CAT_COUNT; i++)
		free(d->sink[i].buf);
	free(d->dir);
	free(d);
}

bool debuglog_enabled(const struct debuglog *d)
{
	return d != NULL;
}

void debuglog_counters(const struct debuglog *d, struct debuglog_counters *ret)
{
	if (!d) {
		memset(ret, 0, sizeof(*ret));
		return;
	}
	*ret = d->c;
}

void debuglog_set_clock(struct debuglog *d, double (*now)(void))
{
	if (!d)
		return;
	d->now = now ? now : acexy_now;
	if (d->unwritable) /* time the pending retry on the new clock */
		d->retry_at = d->now() + DEBUGLOG_RETRY_S;
}

static int append_cb(const char *buf, size_t size, void *data)
{
	struct dl_sink *s = data;
	if (size > DEBUGLOG_BUFFER_MAX - s->len)
		return -1;
	if (s->len + size > s->cap) {
		size_t cap = s->cap ? s->cap : 4096;
		while (cap < s->len + size)
			cap *= 2;
		if (cap > DEBUGLOG_BUFFER_MAX)
			cap = DEBUGLOG_BUFFER_MAX;
		char *p = realloc(s->buf, cap);
		if (!p)
			return -1;
		s->buf = p;
		s->cap = cap;
	}
	memcpy(s->buf + s->len, buf, size);
	s->len += size;
	return 0;
}

static void utc_now(char *buf, size_t cap)
{
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	size_t n = strftime(buf, cap, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf + n, cap - n, ".%03dZ", (int)(ts.tv_nsec / 1000000));
}

void debuglog_write(struct debuglog *d, enum debuglog_cat cat, const char *event, json_t *fields)
{
	if (!d) {
		json_decref(fields);
		return;
	}
	if (d->unwritable && d->now() < d->retry_at) {
		json_decref(fields);
		d->c.records_dropped++;
		return;
	}
	json_t *rec = NULL;
	if ((unsigned)cat >= DEBUGLOG_CAT_COUNT || !event || (fields && !json_is_object(fields)))
		goto drop;
	char ts[48];
	utc_now(ts, sizeof(ts));
	rec = json_object();
	if (!rec || json_object_set_new(rec, "ts", json_string(ts)) < 0 ||
	    json_object_set_new(rec, "category", json_string(cats[cat].name)) < 0 ||
	    json_object_set_new(rec, "event", json_string(event)) < 0 ||
	    (fields && json_object_update_missing(rec, fields) < 0))
		goto drop;
	struct dl_sink *s = &d->sink[cat];
	size_t start = s->len;
	if (json_dump_callback(rec, append_cb, s, JSON_COMPACT | JSON_REAL_PRECISION(9)) < 0 ||
	    append_cb("\n", 1, s) < 0) {
		s->len = start;
		goto drop;
	}
	json_decref(rec);
	json_decref(fields);
	if (d->loop && !ev_is_active(&d->timer)) {
		ev_timer_set(&d->timer, DEBUGLOG_FLUSH_S, 0.);
		ev_timer_start(d->loop, &d->timer);
	}
	return;
drop:
	json_decref(rec);
	json_decref(fields);
	d->c.records_dropped++;
}

/* ---- helpers ------------------------------------------------------------ */

json_t *debuglog_text(const char *s, size_t len)
{
	if (!s)
		return json_null();
	char *out = malloc(DEBUGLOG_TEXT_MAX);
	if (!out)
		return NULL;
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, o = 0;
	while (i < len) {
		size_t k = p[i] ? acexy_utf8_len(p + i, len - i)
		                : 0; /* NUL too: not every reader takes \u0000 */
		const char *src = k ? s + i : "\xEF\xBF\xBD";
		size_t m = k ? k : 3;
		if (o + m > DEBUGLOG_TEXT_MAX)
			break;
		memcpy(out + o, src, m);
		o += m;
		i += k ? k : 1;
	}
	json_t *j = json_stringn(out, o);
	free(out);
	return j;
}

static bool type_matches(const char *type, const json_t *v)
{
	if (json_is_null(v))
		return true;
	if (strcmp(type, "string") == 0)
		return json_is_string(v);
	if (strcmp(type, "integer") == 0)
		return json_is_integer(v);
	if (strcmp(type, "number") == 0)
		return json_is_number(v);
	if (strcmp(type, "boolean") == 0)
		return json_is_boolean(v);
	if (strcmp(type, "array") == 0)
		return json_is_array(v);
	if (strcmp(type, "object") == 0)
		return json_is_object(v);
	return false;
}

static const struct dl_field *find_field(const struct dl_field *f, size_t n, const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(f[i].name, name) == 0)
			return &f[i];
	return NULL;
}

static char problem[256];

static const char *object_problem(const char *where, const struct dl_field *f, size_t n,
                                  const json_t *obj, bool common)
{
	const char *key;
	const json_t *v;
	json_object_foreach((json_t *)obj, key, v)
	{
		const struct dl_field *fd = find_field(f, n, key);
		if (!fd && common)
			fd = find_field(common_fields, NCOMMON, key);
		if (!fd) {
			snprintf(problem, sizeof(problem), "%s: undeclared field %s", where, key);
			return problem;
		}
		if (!type_matches(fd->type, v)) {
			snprintf(problem, sizeof(problem), "%s: field %s is not %s", where, key,
			         fd->type);
			return problem;
		}
		if (!json_is_array(v))
			continue;
		char sub[128];
		snprintf(sub, sizeof(sub), "%s.%s[]", where, key);
		for (size_t i = 0; i < NSUBS; i++) {
			if (strcmp(subs[i].where, sub) != 0)
				continue;
			size_t j;
			const json_t *el;
			json_array_foreach(v, j, el)
			{
				if (!json_is_object(el)) {
					snprintf(problem, sizeof(problem), "%s: not an object",
					         sub);
					return problem;
				}
				const char *p = object_problem(sub, subs[i].fields, subs[i].nfields,
				                               el, false);
				if (p)
					return p;
			}
		}
	}
	return NULL;
}

const char *debuglog_record_problem(enum debuglog_cat cat, const json_t *record)
{
	if ((unsigned)cat >= DEBUGLOG_CAT_COUNT)
		return "no such category";
	if (!json_is_object(record))
		return "not an object";
	const char *c = json_string_value(json_object_get(record, "category"));
	if (!c || strcmp(c, cats[cat].name) != 0)
		return "category missing or wrong";
	if (!json_is_string(json_object_get(record, "ts")))
		return "ts missing";
	if (!json_is_string(json_object_get(record, "event")))
		return "event missing";
	return object_problem(cats[cat].name, cats[cat].fields, cats[cat].nfields, record, true);
}

/* ---- the doc ------------------------------------------------------------ */

static void md_cell(FILE *f, const char *s)
{
	for (; *s; s++) {
		if (*s == '|')
			fputc('\\', f);
		fputc(*s, f);
	}
}

static void md_fields(FILE *f, const struct dl_field *fl, size_t n)
{
	fputs("| field | type | meaning |\n|---|---|---|\n", f);
	for (size_t i = 0; i < n; i++) {
		fprintf(f, "| `%s` | %s | ", fl[i].name, fl[i].type);
		md_cell(f, fl[i].help);
		fputs(" |\n", f);
	}
}

static void md_events(FILE *f, const char *events)
{
	if (!*events) {
		fputs("free text", f);
		return;
	}
	const char *p = events;
	while (*p) {
		size_t n = strcspn(p, ",");
		fprintf(f, "`%.*s`", (int)n, p);
		p += n;
		if (*p == ',') {
			fputs(", ", f);
			p++;
			while (*p == ' ')
				p++;
		}
	}
}

int debuglog_write_doc(FILE *f)
{
	fputs("<!-- Generated from include/acexy/debuglog_table.h by scripts/gen-debug-doc.sh;"
	      " do not edit. -->\n"
	      "# Debug mode: JSON Lines debug logs\n\n"
	      "With `DEBUG_MODE=true` (flag `--debug-mode`, YAML `debug_mode`) the controlplane "
	      "writes\none JSON object per line, one file per category, in `DEBUG_LOG_DIR` "
	      "(flag\n`--debug-log-dir`, default `./debug_logs`, created with mode 0750 when "
	      "missing):\n`<category>.jsonl`.\n\n",
	      f);
	fprintf(f,
	        "- Records are buffered in memory and written every %.1f s, so a slow disk does "
	        "not\n  stall the controlplane. At most %u MiB wait per category; beyond that "
	        "records\n  are dropped and counted.\n"
	        "- A file that would grow past %u MiB is renamed `<category>.jsonl.1` (older "
	        "ones\n  shift up to `.%u`, the oldest is removed) and a new file is "
	        "started.\n"
	        "- When the directory cannot be written (read-only, full disk, a parent that is "
	        "not\n  a directory) the controlplane logs `debug_log_unwritable` once at error "
	        "level,\n  drops records (counted) and tries again at most every %.0f s; it logs\n"
	        "  `debug_log_writable` when writing works again. Files are never followed "
	        "through\n  symbolic links.\n"
	        "- A field that does not apply, or is not known, is absent or `null`. Text from "
	        "outside\n  (engine or orchestrator messages) is cut to %u bytes, invalid UTF-8 "
	        "replaced.\n\n",
	        DEBUGLOG_FLUSH_S, DEBUGLOG_BUFFER_MAX >> 20, DEBUGLOG_ROTATE_BYTES_DEFAULT >> 20,
	        DEBUGLOG_KEEP_DEFAULT, DEBUGLOG_RETRY_S, DEBUGLOG_TEXT_MAX);
	fputs("Example (`requests.jsonl`):\n\n"
	      "```json\n"
	      "{\"ts\":\"2025-01-02T03:04:05.678Z\",\"category\":\"requests\",\"event\":\"assign\","
	      "\"instance\":\"pod-a-17-x3k\",\"key_type\":\"id\",\"key\":\"abc\","
	      "\"outcome\":\"lease\",\"lease\":42,\"wait_ms\":0.8}\n"
	      "```\n\n"
	      "`jq -c 'select(.outcome == \"refusal\")' debug_logs/requests.jsonl` lists the "
	      "refusals.\n\n"
	      "Every record carries:\n\n",
	      f);
	md_fields(f, common_fields, NCOMMON);
	fputs("\n## Categories\n\n| category | events | what |\n|---|---|---|\n", f);
	for (size_t i = 0; i < DEBUGLOG_CAT_COUNT; i++) {
		fprintf(f, "| [`%s`](#%s) | ", cats[i].name, cats[i].name);
		md_events(f, cats[i].events);
		fputs(" | ", f);
		md_cell(f, cats[i].help);
		fputs(" |\n", f);
	}
	for (size_t i = 0; i < DEBUGLOG_CAT_COUNT; i++) {
		fprintf(f, "\n## %s\n\n", cats[i].name);
		fprintf(f, "File `%s.jsonl`: %s.\n\nEvents: ", cats[i].name, cats[i].help);
		md_events(f, cats[i].events);
		fputs(".\n\n", f);
		md_fields(f, cats[i].fields, cats[i].nfields);
		for (size_t k = 0; k < NSUBS; k++) {
			size_t n = strlen(cats[i].name);
			if (strncmp(subs[k].where, cats[i].name, n) != 0 || subs[k].where[n] != '.')
				continue;
			fprintf(f, "\nEach element of `%s` (%s):\n\n", subs[k].where + n + 1,
			        subs[k].help);
			md_fields(f, subs[k].fields, subs[k].nfields);
		}
	}
	fflush(f);
	return ferror(f) ? -EIO : 0;
}
