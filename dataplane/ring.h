/* The per-stream ring: one writer, any number of readers, each with its own
 * absolute position (bytes since the stream began). Pure: no I/O, no logging.
 *
 * Memory comes in fixed chunks as data arrives and goes back as soon as no
 * reader (and no retention window) needs it, so an idle stream costs almost
 * nothing. Limits: a reader is never more than `capacity` bytes behind the
 * live edge; the chunks held cover at most capacity + 2 chunks (the partly
 * used ones at either end), plus one cached spare chunk.
 *
 * Two policies for a reader that falls behind (DESIGN.md "Streams"):
 * - RING_BACKPRESSURE (default, one viewer per engine session): the writer
 *   may add only ring_write_space() bytes and must pause its source at 0.
 * - RING_DROP_SLOW (multiplex): the writer never waits; a reader that falls
 *   more than `capacity` behind is marked overrun and gets no more data —
 *   its owner finds it with ring_first_overrun() and detaches it.
 * Both keep up to `retain` bytes behind the live edge for late joiners
 * (0 by default). */
#ifndef ACEXY_DP_RING_H
#define ACEXY_DP_RING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

struct ring;
struct ring_reader;

enum ring_mode {
	RING_BACKPRESSURE,
	RING_DROP_SLOW,
};

/* capacity and chunk_size > 0; capacity need not be a multiple of the chunk.
 * Allocates no chunk yet. */
int ring_new(size_t capacity, size_t chunk_size, struct ring **ret);
/* Frees the ring, its chunks and every reader still attached (their handles
 * become invalid). */
void ring_free(struct ring *r);
/* -EINVAL if retain > capacity. Readers already beyond the new limits are
 * marked overrun at the next write. */
int ring_set_mode(struct ring *r, enum ring_mode mode, size_t retain);

/* Bytes the writer may add now. RING_BACKPRESSURE: capacity minus the lag of
 * the slowest reader (capacity with no reader); 0 means pause the source.
 * RING_DROP_SLOW: always capacity. */
size_t ring_write_space(const struct ring *r);
/* Zero-copy write: a pointer to contiguous room for up to *ret_len bytes
 * (never more than the space, never past the current chunk). Follow with
 * ring_write_commit. -EAGAIN: no space (backpressure); -ENOMEM. */
int ring_write_reserve(struct ring *r, void **ret_ptr, size_t *ret_len);
/* Publishes n bytes of the last reservation (clamped to it). */
void ring_write_commit(struct ring *r, size_t n);
/* Copies up to len bytes, as much as the space allows (all of them when no
 * reader is attached, or in RING_DROP_SLOW). Returns the number
 * copied (0 when no space), or -ENOMEM when nothing could be copied. */
long ring_write(struct ring *r, const void *data, size_t len);

/* Total bytes written since the ring was made: the live edge. */
uint64_t ring_write_pos(const struct ring *r);
/* Oldest position a reader may attach at. */
uint64_t ring_start_pos(const struct ring *r);
/* The position `behind` bytes before the live edge (or the oldest held),
 * rounded down to a multiple of `align` (e.g. 188 for MPEG-TS packets,
 * counted from position 0) but not before ring_start_pos(). -EAGAIN when no
 * multiple of align is held (only right after the ring was trimmed: a retain
 * of at least align avoids it). */
int ring_join_pos(const struct ring *r, uint64_t behind, size_t align, uint64_t *ret_pos);
/* Random access points (where a player can start: PAT, PMT, keyframe), as
 * the writer finds them: an index of the latest RING_RAPS positions, so a
 * late joiner starts at a picture without a scan. Positions must grow. */
#define RING_RAPS 16
void ring_mark_rap(struct ring *r, uint64_t pos);
/* The latest random access point still held and at most `behind` bytes
 * before the live edge; -ENOENT when there is none. */
int ring_join_rap(const struct ring *r, uint64_t behind, uint64_t *ret_pos);
/* Bytes of chunk memory held, the cached spare included (for /metrics). */
size_t ring_memory(const struct ring *r);
/* Chunks holding data (the cached spare excluded). */
size_t ring_chunks(const struct ring *r);
/* Readers attached, overrun ones included. */
size_t ring_reader_count(const struct ring *r);

/* Attaches a reader at `pos`, clamped to [ring_start_pos, ring_write_pos]. */
int ring_reader_attach(struct ring *r, uint64_t pos, struct ring_reader **ret);
/* Accepts NULL. */
void ring_reader_detach(struct ring_reader *rd);
/* An opaque pointer for the caller (e.g. its viewer), NULL at attach. */
void ring_reader_set_owner(struct ring_reader *rd, void *owner);
void *ring_reader_owner(const struct ring_reader *rd);
/* Fills up to `max` iovecs with readable bytes, at most max_bytes in all.
 * Returns the number of iovecs (0 when nothing is readable or overrun). The
 * memory stays valid until the reader consumes past it or detaches. */
int ring_reader_iov(const struct ring_reader *rd, struct iovec *iov, int max, size_t max_bytes);
/* Marks n bytes read (clamped to the lag; nothing for an overrun reader). */
void ring_reader_consume(struct ring_reader *rd, size_t n);
/* Bytes written but not yet read by this reader. */
uint64_t ring_reader_lag(const struct ring_reader *rd);
uint64_t ring_reader_pos(const struct ring_reader *rd);
/* RING_DROP_SLOW only: fell more than capacity behind; its data is gone. */
bool ring_reader_overrun(const struct ring_reader *rd);
/* Some overrun reader still attached, or NULL: detach it and ask again. */
struct ring_reader *ring_first_overrun(const struct ring *r);

#endif
