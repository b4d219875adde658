/* The event spool: an append-only file under ACEXY_STATE_DIR holding the
 * orchestrator events not yet delivered, so that a controlplane restart
 * loses none.
 *
 * One record per line:  <16 hex digits: FNV-1a 64 of the JSON> <JSON>\n
 *   {"op":"add","seq":N,"event":{...}}   an event to deliver
 *   {"op":"done","seq":N}                 delivered, skipped or dropped
 * Loading replays the lines; a line whose checksum or JSON is wrong (a torn
 * last write, a damaged block) is skipped and counted. The file is rewritten
 * with only the pending events (temp file, fsync, rename) when it is loaded
 * and when it grows; every append is fdatasync'd. An exclusive flock keeps a
 * second controlplane away from it. */
#ifndef ACEXY_CP_SPOOL_H
#define ACEXY_CP_SPOOL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SPOOL_LINE_MAX (256 * 1024)

struct spool_parse_stats {
	uint64_t lines, added, done, bad; /* bad: checksum, JSON or shape */
	bool torn_tail;                   /* the last line had no newline */
};

/* Pure: walks the spool text. For every valid record calls add(ud, seq,
 * event) or done(ud, seq); `event` is borrowed for the call. */
typedef void (*spool_add_fn)(void *ud, uint64_t seq, json_t *event);
typedef void (*spool_done_fn)(void *ud, uint64_t seq);
void spool_parse(const char *buf, size_t len, spool_add_fn add, spool_done_fn done, void *ud,
                 struct spool_parse_stats *st);
/* Pure: formats one record line into a malloc'ed buffer (NUL-terminated). */
char *spool_format_add(uint64_t seq, const json_t *event, size_t *ret_len);
char *spool_format_done(uint64_t seq, size_t *ret_len);
uint64_t spool_hash(const char *p, size_t n);

struct spool;
struct spool_pending { /* what spool_open found still pending, by seq */
	uint64_t seq;
	json_t *event; /* owned by the caller after spool_open */
};
/* Opens (creating dir and file), locks, loads and compacts. On error
 * returns <0 with a one-line reason in err. */
int spool_open(const char *dir, uint64_t max_bytes, struct spool **ret,
               struct spool_pending **pending, size_t *npending, struct spool_parse_stats *st,
               char *err, size_t errcap);
void spool_close(struct spool *s);
/* Appends a record (fdatasync'd). -EFBIG when the cap would be exceeded
 * even after compaction; other -errno on I/O errors (-ENOSPC: the disk is
 * full), after which the file is back at its last good record. */
int spool_add(struct spool *s, uint64_t seq, const json_t *event);
/* Marks a record done. When the mark cannot be written the file is
 * stale (spool_stale) and is rewritten by the next write or spool_sync. */
int spool_done(struct spool *s, uint64_t seq);
/* Rewrites a stale file from memory; 0 when there was nothing to do. */
int spool_sync(struct spool *s);
bool spool_stale(const struct spool *s);
uint64_t spool_bytes(const struct spool *s);
const char *spool_path(const struct spool *s);

#endif
