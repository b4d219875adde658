#include "dataplane/ring.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define SPARE_MAX 1 /* a chunk kept for reuse: no malloc per chunk boundary */

struct ring_reader {
	struct ring *ring;
	struct ring_reader *next;
	uint64_t pos;
};

struct ring {
	size_t cap, chunk;
	uint64_t wpos;
	uint64_t base; /* absolute position of chunks[head] (a multiple of chunk) */
	char **chunks; /* circular deque */
	size_t nslots; /* capacity of the deque */
	size_t head, count;
	char *spare[SPARE_MAX];
	size_t nspare;
	struct ring_reader *readers;
	size_t mem;
};

int ring_new(size_t capacity, size_t chunk_size, struct ring **ret)
{
	if (capacity == 0 || chunk_size == 0)
		return -EINVAL;
	struct ring *r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->cap = capacity;
	r->chunk = chunk_size;
	/* capacity bytes may straddle one extra chunk at each end */
	r->nslots = capacity / chunk_size + 3;
	r->chunks = calloc(r->nslots, sizeof(char *));
	if (!r->chunks) {
		free(r);
		return -ENOMEM;
	}
	*ret = r;
	return 0;
}

void ring_free(struct ring *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->count; i++)
		free(r->chunks[(r->head + i) % r->nslots]);
	for (size_t i = 0; i < r->nspare; i++)
		free(r->spare[i]);
	struct ring_reader *rd = r->readers;
	while (rd) {
		struct ring_reader *n = rd->next;
		free(rd);
		rd = n;
	}
	free(r->chunks);
	free(r);
}

static uint64_t min_reader_pos(const struct ring *r)
{
	uint64_t m = r->wpos;
	for (const struct ring_reader *rd = r->readers; rd; rd = rd->next)
		if (rd->pos < m)
			m = rd->pos;
	return m;
}

size_t ring_write_space(const struct ring *r)
{
	uint64_t used = r->wpos - min_reader_pos(r);
	return used >= r->cap ? 0 : (size_t)(r->cap - used);
}

uint64_t ring_write_pos(const struct ring *r)
{
	return r->wpos;
}

uint64_t ring_start_pos(const struct ring *r)
{
	uint64_t m = min_reader_pos(r);
	return m > r->base ? m : r->base;
}

size_t ring_memory(const struct ring *r)
{
	return r->mem;
}

static char *chunk_alloc(struct ring *r)
{
	if (r->nspare > 0)
		return r->spare[--r->nspare];
	char *c = malloc(r->chunk);
	if (c)
		r->mem += r->chunk;
	return c;
}

static void chunk_release(struct ring *r, char *c)
{
	if (r->nspare < SPARE_MAX) {
		r->spare[r->nspare++] = c;
		return;
	}
	free(c);
	r->mem -= r->chunk;
}

/* Returns chunks every reader has passed. */
static void trim(struct ring *r)
{
	uint64_t keep = min_reader_pos(r);
	while (r->count > 0 && r->base + r->chunk <= keep) {
		chunk_release(r, r->chunks[r->head]);
		r->chunks[r->head] = NULL;
		r->head = (r->head + 1) % r->nslots;
		r->count--;
		r->base += r->chunk;
	}
	if (r->count == 0)
		r->base = r->wpos - r->wpos % r->chunk;
}

long ring_write(struct ring *r, const void *data, size_t len)
{
	size_t space = ring_write_space(r);
	if (len > space)
		len = space;
	const char *src = data;
	size_t done = 0;
	while (done < len) {
		uint64_t end = r->base + (uint64_t)r->count * r->chunk;
		if (r->wpos == end) {
			if (r->count == r->nslots)
				break; /* cannot happen within capacity */
			char *c = chunk_alloc(r);
			if (!c)
				return done ? (long)done : -ENOMEM;
			r->chunks[(r->head + r->count) % r->nslots] = c;
			r->count++;
			end += r->chunk;
		}
		size_t off = (size_t)(r->wpos % r->chunk);
		size_t n = (size_t)(end - r->wpos);
		if (n > len - done)
			n = len - done;
		memcpy(r->chunks[(r->head + r->count - 1) % r->nslots] + off, src + done, n);
		r->wpos += n;
		done += n;
	}
	return (long)done;
}

int ring_reader_attach(struct ring *r, uint64_t pos, struct ring_reader **ret)
{
	struct ring_reader *rd = calloc(1, sizeof(*rd));
	if (!rd)
		return -ENOMEM;
	uint64_t start = r->count ? r->base : r->wpos;
	if (pos < start)
		pos = start;
	if (pos > r->wpos)
		pos = r->wpos;
	rd->ring = r;
	rd->pos = pos;
	rd->next = r->readers;
	r->readers = rd;
	*ret = rd;
	return 0;
}

void ring_reader_detach(struct ring_reader *rd)
{
	if (!rd)
		return;
	struct ring *r = rd->ring;
	for (struct ring_reader **pp = &r->readers; *pp; pp = &(*pp)->next) {
		if (*pp == rd) {
			*pp = rd->next;
			break;
		}
	}
	free(rd);
	trim(r);
}

int ring_reader_iov(const struct ring_reader *rd, struct iovec *iov, int max, size_t max_bytes)
{
	const struct ring *r = rd->ring;
	uint64_t pos = rd->pos;
	int n = 0;
	while (n < max && pos < r->wpos && max_bytes > 0) {
		size_t idx = (size_t)((pos - r->base) / r->chunk);
		size_t off = (size_t)(pos % r->chunk);
		uint64_t chunk_end = r->base + (uint64_t)(idx + 1) * r->chunk;
		uint64_t end = chunk_end < r->wpos ? chunk_end : r->wpos;
		size_t len = (size_t)(end - pos);
		if (len > max_bytes)
			len = max_bytes;
		iov[n].iov_base = r->chunks[(r->head + idx) % r->nslots] + off;
		iov[n].iov_len = len;
		n++;
		pos += len;
		max_bytes -= len;
	}
	return n;
}

void ring_reader_consume(struct ring_reader *rd, size_t n)
{
	uint64_t lag = rd->ring->wpos - rd->pos;
	rd->pos += n > lag ? lag : n;
	trim(rd->ring);
}

uint64_t ring_reader_lag(const struct ring_reader *rd)
{
	return rd->ring->wpos - rd->pos;
}

uint64_t ring_reader_pos(const struct ring_reader *rd)
{
	return rd->pos;
}
