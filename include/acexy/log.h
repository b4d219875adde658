/* One-line structured logging shared by every program.
 *
 *   ALOG(ALOG_INFO, "stream_ended", ALOG_S("content", id), ALOG_U("bytes", n));
 *
 * text format:  ts=... level=info event=stream_ended content=abc bytes=12
 * json format:  {"ts":"...","level":"info","event":"stream_ended",...}
 *
 * Lines are queued and written by a logger thread, so a slow stderr never
 * blocks an event loop; when the queue is full lines are dropped and counted
 * (the count is logged once the queue drains). Thread-safe. */
#ifndef ACEXY_LOG_H
#define ACEXY_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum alog_level { ALOG_DEBUG = 0, ALOG_INFO, ALOG_WARN, ALOG_ERROR };
enum alog_format { ALOG_TEXT = 0, ALOG_JSON };

enum alog_field_type {
	ALOG_FT_END = 0,
	ALOG_FT_STR,
	ALOG_FT_U64,
	ALOG_FT_I64,
	ALOG_FT_DBL,
	ALOG_FT_BOOL
};

struct alog_field {
	const char *key;
	enum alog_field_type type;
	union {
		const char *s;
		uint64_t u;
		int64_t i;
		double d;
		bool b;
	};
};

#define ALOG_S(k, v) ((struct alog_field){.key = (k), .type = ALOG_FT_STR, .s = (v)})
#define ALOG_U(k, v) ((struct alog_field){.key = (k), .type = ALOG_FT_U64, .u = (uint64_t)(v)})
#define ALOG_I(k, v) ((struct alog_field){.key = (k), .type = ALOG_FT_I64, .i = (int64_t)(v)})
#define ALOG_D(k, v) ((struct alog_field){.key = (k), .type = ALOG_FT_DBL, .d = (double)(v)})
#define ALOG_B(k, v) ((struct alog_field){.key = (k), .type = ALOG_FT_BOOL, .b = (bool)(v)})

/* Logs an event with key/value fields when the level is enabled. */
#define ALOG(lvl, event, ...)                                                                      \
	do {                                                                                       \
		if (alog_enabled(lvl))                                                             \
			alog_emit((lvl), (event),                                                  \
			          (const struct alog_field[]){__VA_ARGS__ __VA_OPT__(, ){0}});     \
	} while (0)

/* Configures the process-wide logger. `program` is added to every line.
 * Safe to call again (level/format change). Starts the writer thread once. */
int alog_init(const char *program, enum alog_level level, enum alog_format format);
/* Writes out every queued line; call before exit. */
void alog_flush(void);
bool alog_enabled(enum alog_level level);
void alog_emit(enum alog_level level, const char *event, const struct alog_field *fields);
/* Lines dropped because the queue was full, since start. */
uint64_t alog_dropped(void);
/* For tests: formats one line into buf (no trailing newline). Returns length. */
size_t alog_format_line(char *buf, size_t cap, enum alog_format format, const char *program,
                        enum alog_level level, const char *event, const struct alog_field *fields);
const char *alog_level_name(enum alog_level level);

#endif
