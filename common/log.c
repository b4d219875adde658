/* Structured one-line logging. Producers format into a bounded queue; a
 * writer thread drains it to stderr so that a slow or blocked stderr never
 * stalls an event loop. A full queue drops lines and counts them. */
#include "acexy/log.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "acexy/utf8.h"

#define LOG_QUEUE_BYTES (256 * 1024)
#define LOG_LINE_MAX    4096

static struct {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	pthread_cond_t drained;
	char *buf; /* circular byte queue of complete lines */
	size_t head, len;
	bool started;
	bool writing;
	char program[48];
	_Atomic int level;
	_Atomic int format;
	_Atomic uint64_t dropped;
	_Atomic uint64_t dropped_reported;
} L = {
        .mu = PTHREAD_MUTEX_INITIALIZER,
        .cv = PTHREAD_COND_INITIALIZER,
        .drained = PTHREAD_COND_INITIALIZER,
        .level = ALOG_INFO,
};

static const char *const level_names[] = {"debug", "info", "warn", "error"};

const char *alog_level_name(enum alog_level level)
{
	if ((unsigned)level > ALOG_ERROR)
		return "?";
	return level_names[level];
}

bool alog_enabled(enum alog_level level)
{
	return (int)level >= atomic_load_explicit(&L.level, memory_order_relaxed);
}

uint64_t alog_dropped(void)
{
	return atomic_load(&L.dropped);
}

struct out {
	char *p;
	size_t cap, len;
	bool cut; /* a value did not fit: the rest of the fields are left out */
};

/* Room kept for what closes a line that was cut: `,"truncated":true}`. */
#define TAIL_RESERVE 24

static void put(struct out *o, const char *s, size_t n)
{
	if (o->len + n > o->cap)
		n = o->cap > o->len ? o->cap - o->len : 0;
	memcpy(o->p + o->len, s, n);
	o->len += n;
}

static bool room(const struct out *o, size_t n)
{
	return o->len + n + TAIL_RESERVE <= o->cap;
}

static void puts_(struct out *o, const char *s)
{
	put(o, s, strlen(s));
}

static void putf(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void putf(struct out *o, const char *fmt, ...)
{
	char tmp[64];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n > 0)
		put(o, tmp, (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

/* A JSON string of any bytes: control characters as \uXXXX, bytes that
 * are not UTF-8 as the text \xHH (a backslash, 'x', two hex digits), so a
 * line is always valid JSON and valid UTF-8. A value that does not fit is
 * cut on a character boundary and the line is marked cut. */
static void put_json_str(struct out *o, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	put(o, "\"", 1);
	for (const unsigned char *c = (const unsigned char *)s; *c && !o->cut;) {
		char piece[8];
		size_t n = 1, used = 1;
		piece[0] = (char)*c;
		switch (*c) {
		case '"':
		case '\\':
			piece[0] = '\\';
			piece[1] = (char)*c;
			n = 2;
			break;
		case '\n':
			memcpy(piece, "\\n", 2);
			n = 2;
			break;
		case '\r':
			memcpy(piece, "\\r", 2);
			n = 2;
			break;
		case '\t':
			memcpy(piece, "\\t", 2);
			n = 2;
			break;
		default:
			if (*c < 0x20 || *c == 0x7f) {
				memcpy(piece, "\\u00", 4);
				piece[4] = hex[*c >> 4];
				piece[5] = hex[*c & 15];
				n = 6;
			} else if (*c >= 0x80) {
				used = n = acexy_utf8_len(c, 4); /* a NUL ends it early */
				if (n == 0) {
					memcpy(piece, "\\\\x", 3);
					piece[3] = hex[*c >> 4];
					piece[4] = hex[*c & 15];
					n = 5;
					used = 1;
				} else {
					memcpy(piece, c, n);
				}
			}
		}
		if (!room(o, n + 1)) {
			o->cut = true;
			break;
		}
		put(o, piece, n);
		c += used;
	}
	put(o, "\"", 1);
}

static bool needs_quotes(const char *s)
{
	if (!*s)
		return true;
	for (const unsigned char *c = (const unsigned char *)s; *c; c++)
		if (*c <= ' ' || *c == '"' || *c == '=' || *c == '\\' || *c >= 0x7f)
			return true; /* (bytes past ASCII: checked, as UTF-8, by the quoting) */
	return false;
}

static void put_text_str(struct out *o, const char *s)
{
	if (!needs_quotes(s) && room(o, strlen(s))) {
		puts_(o, s);
		return;
	}
	/* JSON-style escaping keeps one event on one line */
	put_json_str(o, s);
}

static void put_value(struct out *o, enum alog_format fmt, const struct alog_field *f)
{
	switch (f->type) {
	case ALOG_FT_STR:
		if (fmt == ALOG_JSON)
			put_json_str(o, f->s ? f->s : "");
		else
			put_text_str(o, f->s ? f->s : "");
		break;
	case ALOG_FT_U64:
		putf(o, "%" PRIu64, f->u);
		break;
	case ALOG_FT_I64:
		putf(o, "%" PRId64, f->i);
		break;
	case ALOG_FT_DBL:
		putf(o, "%.6g", f->d);
		break;
	case ALOG_FT_BOOL:
		puts_(o, f->b ? "true" : "false");
		break;
	case ALOG_FT_END:
		break;
	}
}

static void put_ts(struct out *o)
{
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	char b[40];
	size_t n = strftime(b, sizeof(b), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(b + n, sizeof(b) - n, ".%03ldZ", ts.tv_nsec / 1000000);
	puts_(o, b);
}

size_t alog_format_line(char *buf, size_t cap, enum alog_format format, const char *program,
                        enum alog_level level, const char *event, const struct alog_field *fields)
{
	struct out o = {.p = buf, .cap = cap ? cap - 1 : 0};
	if (format == ALOG_JSON) {
		puts_(&o, "{\"ts\":\"");
		put_ts(&o);
		puts_(&o, "\",\"level\":\"");
		puts_(&o, alog_level_name(level));
		puts_(&o, "\"");
		if (program && *program) {
			puts_(&o, ",\"program\":");
			put_json_str(&o, program);
		}
		puts_(&o, ",\"event\":");
		put_json_str(&o, event);
		for (const struct alog_field *f = fields; f && f->key && !o.cut; f++) {
			if (!room(&o, strlen(f->key) + 32)) {
				o.cut = true;
				break;
			}
			puts_(&o, ",");
			put_json_str(&o, f->key);
			puts_(&o, ":");
			put_value(&o, format, f);
		}
		if (o.cut)
			puts_(&o, ",\"truncated\":true");
		puts_(&o, "}");
	} else {
		puts_(&o, "ts=");
		put_ts(&o);
		puts_(&o, " level=");
		puts_(&o, alog_level_name(level));
		if (program && *program) {
			puts_(&o, " program=");
			put_text_str(&o, program);
		}
		puts_(&o, " event=");
		put_text_str(&o, event);
		for (const struct alog_field *f = fields; f && f->key && !o.cut; f++) {
			if (!room(&o, strlen(f->key) + 32)) {
				o.cut = true;
				break;
			}
			puts_(&o, " ");
			puts_(&o, f->key);
			puts_(&o, "=");
			put_value(&o, format, f);
		}
		if (o.cut)
			puts_(&o, " truncated=true");
	}
	if (cap)
		buf[o.len] = '\0';
	return o.len;
}

static void *writer_main(void *arg)
{
	(void)arg;
	char chunk[16384];
	pthread_mutex_lock(&L.mu);
	for (;;) {
		while (L.len == 0) {
			L.writing = false;
			pthread_cond_broadcast(&L.drained);
			pthread_cond_wait(&L.cv, &L.mu);
		}
		L.writing = true;
		size_t n = L.len < sizeof(chunk) ? L.len : sizeof(chunk);
		size_t first = LOG_QUEUE_BYTES - L.head < n ? LOG_QUEUE_BYTES - L.head : n;
		memcpy(chunk, L.buf + L.head, first);
		memcpy(chunk + first, L.buf, n - first);
		L.head = (L.head + n) % LOG_QUEUE_BYTES;
		L.len -= n;
		pthread_mutex_unlock(&L.mu);
		size_t off = 0;
		while (off < n) {
			ssize_t w = write(STDERR_FILENO, chunk + off, n - off);
			if (w < 0 && errno == EINTR)
				continue;
			if (w <= 0)
				break; /* stderr gone: nothing sensible to do */
			off += (size_t)w;
		}
		pthread_mutex_lock(&L.mu);
	}
	return NULL;
}

static void enqueue(const char *line, size_t n)
{
	pthread_mutex_lock(&L.mu);
	if (!L.started) {
		/* before alog_init (or when the thread could not start): write directly */
		pthread_mutex_unlock(&L.mu);
		ssize_t w = write(STDERR_FILENO, line, n);
		(void)w;
		return;
	}
	if (L.len + n > LOG_QUEUE_BYTES) {
		atomic_fetch_add(&L.dropped, 1);
		pthread_mutex_unlock(&L.mu);
		return;
	}
	size_t tail = (L.head + L.len) % LOG_QUEUE_BYTES;
	size_t first = LOG_QUEUE_BYTES - tail < n ? LOG_QUEUE_BYTES - tail : n;
	memcpy(L.buf + tail, line, first);
	memcpy(L.buf, line + first, n - first);
	L.len += n;
	pthread_cond_signal(&L.cv);
	pthread_mutex_unlock(&L.mu);
}

void alog_emit(enum alog_level level, const char *event, const struct alog_field *fields)
{
	char line[LOG_LINE_MAX];
	enum alog_format fmt = (enum alog_format)atomic_load(&L.format);
	uint64_t dropped = atomic_load(&L.dropped);
	uint64_t reported = atomic_load(&L.dropped_reported);
	/* tell the reader that lines were lost, at the next important line */
	if (dropped != reported && level >= ALOG_WARN &&
	    atomic_compare_exchange_strong(&L.dropped_reported, &reported, dropped)) {
		size_t m = alog_format_line(
		        line, sizeof(line) - 1, fmt, L.program, ALOG_WARN, "log_lines_dropped",
		        (const struct alog_field[]){ALOG_U("total", dropped), {0}});
		line[m++] = '\n';
		enqueue(line, m);
	}
	size_t n = alog_format_line(line, sizeof(line) - 1, fmt, L.program, level, event, fields);
	line[n++] = '\n';
	enqueue(line, n);
}

int alog_init(const char *program, enum alog_level level, enum alog_format format)
{
	atomic_store(&L.level, (int)level);
	atomic_store(&L.format, (int)format);
	pthread_mutex_lock(&L.mu);
	if (program)
		snprintf(L.program, sizeof(L.program), "%s", program);
	int rc = 0;
	if (!L.started) {
		L.buf = malloc(LOG_QUEUE_BYTES);
		pthread_t th;
		pthread_attr_t attr;
		pthread_attr_init(&attr);
		pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
		pthread_attr_setstacksize(&attr, 64 * 1024);
		if (!L.buf) {
			rc = -ENOMEM;
		} else if (pthread_create(&th, &attr, writer_main, NULL) != 0) {
			free(L.buf);
			L.buf = NULL;
			rc = -EAGAIN;
		} else {
			L.started = true;
		}
		pthread_attr_destroy(&attr);
	}
	pthread_mutex_unlock(&L.mu);
	return rc;
}

void alog_flush(void)
{
	struct timespec deadline;
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += 2; /* a blocked stderr must not hang the exit */
	pthread_mutex_lock(&L.mu);
	while (L.started && (L.len > 0 || L.writing)) {
		if (pthread_cond_timedwait(&L.drained, &L.mu, &deadline) == ETIMEDOUT)
			break;
	}
	pthread_mutex_unlock(&L.mu);
}
