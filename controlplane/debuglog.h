/* JSON Lines debug logs (DEBUG_MODE, DEBUG_LOG_DIR): one file per category
 * of include/acexy/debuglog_table.h, <dir>/<category>.jsonl.
 *
 *   if (debuglog_enabled(dl))
 *           debuglog_write(dl, DEBUGLOG_REQUESTS, "assign",
 *                          json_pack("{s:s, s:I}", "key", key, "lease", (json_int_t)id));
 *
 * Records go to an in-memory buffer per category (capped at
 * DEBUGLOG_BUFFER_MAX; beyond it they are dropped and counted), written out
 * by a 0.5 s timer on the loop and by debuglog_flush/debuglog_close, so a
 * slow disk never stalls the loop for long. A directory that cannot be
 * written (read-only, full, missing parent) is logged once at error level;
 * records are then dropped and counted, and writing is tried again at most
 * every DEBUGLOG_RETRY_S. Files are rotated by size: <cat>.jsonl.1 .. .<keep>.
 *
 * Not thread-safe: use from the loop's thread. Every function accepts NULL
 * (= disabled). */
#ifndef ACEXY_CP_DEBUGLOG_H
#define ACEXY_CP_DEBUGLOG_H

#include <ev.h>
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "acexy/debuglog_table.h"

#define DEBUGLOG_ROTATE_BYTES_DEFAULT (16u << 20)
#define DEBUGLOG_KEEP_DEFAULT         3u
#define DEBUGLOG_BUFFER_MAX           (1u << 20) /* per category */
#define DEBUGLOG_FLUSH_S              0.5
#define DEBUGLOG_RETRY_S              30.0
#define DEBUGLOG_TEXT_MAX             4096 /* debuglog_text() keeps at most this many bytes */

struct debuglog;

struct debuglog_counters {
	uint64_t records_written; /* lines that reached a file */
	uint64_t records_dropped; /* buffer full, directory unwritable, not encodable */
	uint64_t write_errors;    /* failed mkdir/open/write/rename calls */
	uint64_t bytes_written;
	uint64_t rotations;
	bool unwritable; /* the directory is currently failing */
};

/* enabled false: *ret = NULL and nothing is touched on disk. Otherwise makes
 * `dir` (mkdir -p, 0750) and returns a handle even when the directory is not
 * writable (that is logged; records are dropped until it is). loop NULL: no
 * timer, data is written only by debuglog_flush/debuglog_close. rotate_bytes
 * 0 and keep 0 mean the defaults. Returns 0, -EINVAL (no dir) or -ENOMEM. */
int debuglog_open(struct debuglog **ret, struct ev_loop *loop, const char *dir, bool enabled,
                  uint64_t rotate_bytes, unsigned keep);
/* Flushes, closes the files and frees. */
void debuglog_close(struct debuglog *d);
/* Callers skip building records when this is false. */
bool debuglog_enabled(const struct debuglog *d);
/* A record whose fields are packed (json_pack format) only when enabled. */
#define DEBUGLOG_PACK(dl, cat, event, ...)                                                         \
	do {                                                                                       \
		if (debuglog_enabled(dl))                                                          \
			debuglog_write((dl), (cat), (event), json_pack(__VA_ARGS__));              \
	} while (0)
/* Queues one record {"ts","category","event", ...fields}. fields (an
 * object, or NULL) is stolen; its own ts/category/event keys are ignored. */
void debuglog_write(struct debuglog *d, enum debuglog_cat cat, const char *event, json_t *fields);
/* Writes every buffered record out now. */
void debuglog_flush(struct debuglog *d);
/* Zeros for NULL. */
void debuglog_counters(const struct debuglog *d, struct debuglog_counters *ret);

/* A JSON string of foreign text (an engine's message, a body excerpt):
 * invalid UTF-8 replaced by U+FFFD, cut to DEBUGLOG_TEXT_MAX bytes. s NULL:
 * JSON null. Never returns NULL except when out of memory. */
json_t *debuglog_text(const char *s, size_t len);

/* The table. */
const char *debuglog_cat_name(enum debuglog_cat cat);
/* NULL when every field of `record` (a whole record, ts/category/event
 * included) is declared for its category with a matching JSON type (null
 * always matches, integer matches number); else a static description of
 * the first problem. For tests. */
const char *debuglog_record_problem(enum debuglog_cat cat, const json_t *record);
/* Writes doc/DEBUG_MODE.md (generated from the table). Returns 0 or -errno. */
int debuglog_write_doc(FILE *f);

/* For tests: replaces the monotonic clock (seconds) used for retries. */
void debuglog_set_clock(struct debuglog *d, double (*now)(void));

#endif
