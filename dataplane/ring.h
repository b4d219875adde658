/* The per-stream ring: one writer, any number of readers, each with its own
 * absolute position. Memory comes in fixed chunks as data arrives and goes
 * back as soon as every reader has passed it, so an idle stream costs almost
 * nothing and a full one at most `capacity` plus one chunk. Pure. */
#ifndef ACEXY_DP_RING_H
#define ACEXY_DP_RING_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

struct ring;
struct ring_reader;

int ring_new(size_t capacity, size_t chunk_size, struct ring **ret);
void ring_free(struct ring *r); /* readers must be detached or are freed with it */
/* Bytes the writer may add before the slowest reader would be overrun. The
 * writer pauses its source when this is smaller than what it holds. */
size_t ring_write_space(const struct ring *r);
/* Copies up to len bytes (never more than ring_write_space). Returns the
 * number copied, or -ENOMEM (nothing copied). */
long ring_write(struct ring *r, const void *data, size_t len);
uint64_t ring_write_pos(const struct ring *r);
/* Oldest position still held. */
uint64_t ring_start_pos(const struct ring *r);
/* Bytes of chunk memory held. */
size_t ring_memory(const struct ring *r);

/* Attaches a reader at `pos`, clamped to [start, write position]. */
int ring_reader_attach(struct ring *r, uint64_t pos, struct ring_reader **ret);
void ring_reader_detach(struct ring_reader *rd);
/* Fills up to `max` iovecs with readable bytes (at most max_bytes).
 * Returns the number of iovecs (0 when nothing is readable). */
int ring_reader_iov(const struct ring_reader *rd, struct iovec *iov, int max, size_t max_bytes);
void ring_reader_consume(struct ring_reader *rd, size_t n);
/* Bytes written but not yet read by this reader. */
uint64_t ring_reader_lag(const struct ring_reader *rd);
uint64_t ring_reader_pos(const struct ring_reader *rd);

#endif
