#include "dataplane/ring.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* One freed chunk is kept for the next one the writer needs: a steady stream
 * then crosses chunk boundaries without malloc/free. */
#define CHUNK_CACHE_MAX 1

/* Readers are kept in a list per chunk (the one their position is in), so
 * that consuming, trimming and finding the slowest reader cost O(1) or
 * O(readers of one chunk), not O(all readers): a multiplexed stream may have
 * thousands. */
struct ring_reader {
	struct ring *ring;
	struct ring_reader *next;
	struct ring_reader **pprev;
	uint64_t pos;
	void *owner;
	bool overrun;
};

struct ring_slot {
	char *data;
	struct ring_reader *readers;
};

struct ring {
	size_t cap, chunk, retain;
	enum ring_mode mode;
	uint64_t wpos;
	/* absolute position of slots[head]; a multiple of chunk. Slots head ..
	 * head+count-1 hold data; slot head+count (never allocated) lists the
	 * readers at the live edge when it sits on a chunk boundary. */
	uint64_t base;
	struct ring_slot *slots; /* circular, nslots >= max count + 1 */
	size_t nslots, head, count;
	size_t reserved;
	char *cache[CHUNK_CACHE_MAX];
	size_t ncache;
	struct ring_reader *overrun; /* readers marked overrun */
	size_t nreaders;
	size_t mem;
	uint64_t raps[RING_RAPS]; /* circular, newest at raps[(nraps - 1) % RING_RAPS] */
	uint64_t nraps;
};

static void list_push(struct ring_reader **head, struct ring_reader *rd)
{
	rd->next = *head;
	rd->pprev = head;
	if (*head)
		(*head)->pprev = &rd->next;
	*head = rd;
}

static void list_remove(struct ring_reader *rd)
{
	*rd->pprev = rd->next;
	if (rd->next)
		rd->next->pprev = rd->pprev;
	rd->next = NULL;
	rd->pprev = NULL;
}

/* Slot index, relative to head, of the chunk holding `pos` (base <= pos). */
static size_t rel_of(const struct ring *r, uint64_t pos)
{
	return (size_t)(pos / r->chunk - r->base / r->chunk);
}

static struct ring_slot *slot_at(const struct ring *r, size_t rel)
{
	return &r->slots[(r->head + rel) % r->nslots];
}

int ring_new(size_t capacity, size_t chunk_size, struct ring **ret)
{
	if (capacity == 0 || chunk_size == 0 || capacity > SIZE_MAX / 2)
		return -EINVAL;
	struct ring *r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->cap = capacity;
	r->chunk = chunk_size;
	r->mode = RING_BACKPRESSURE;
	/* held data spans less than capacity + 2 chunks, plus the live-edge
	 * slot: see ring_write_reserve */
	r->nslots = capacity / chunk_size + 3;
	r->slots = calloc(r->nslots, sizeof(*r->slots));
	if (!r->slots) {
		free(r);
		return -ENOMEM;
	}
	*ret = r;
	return 0;
}

static void free_reader_list(struct ring_reader *rd)
{
	while (rd) {
		struct ring_reader *next = rd->next;
		free(rd);
		rd = next;
	}
}

void ring_free(struct ring *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->nslots; i++) {
		free(r->slots[i].data);
		free_reader_list(r->slots[i].readers);
	}
	free_reader_list(r->overrun);
	for (size_t i = 0; i < r->ncache; i++)
		free(r->cache[i]);
	free(r->slots);
	free(r);
}

static char *chunk_alloc(struct ring *r)
{
	if (r->ncache > 0)
		return r->cache[--r->ncache];
	char *c = malloc(r->chunk);
	if (c)
		r->mem += r->chunk;
	return c;
}

static void chunk_release(struct ring *r, char *c)
{
	if (r->ncache < CHUNK_CACHE_MAX) {
		r->cache[r->ncache++] = c;
		return;
	}
	free(c);
	r->mem -= r->chunk;
}

static void mark_overrun(struct ring *r, struct ring_reader *rd)
{
	list_remove(rd);
	rd->overrun = true;
	list_push(&r->overrun, rd);
}

/* Returns the oldest chunks nobody needs: no reader in them and older than
 * the retention window; and in any mode, chunks a whole capacity behind the
 * live edge, whose readers are then overrun. Then marks the readers of the
 * (new) oldest chunk that are more than capacity behind. */
static void trim(struct ring *r)
{
	for (;;) {
		while (r->count > 0 && r->base + r->chunk <= r->wpos) {
			struct ring_slot *s = slot_at(r, 0);
			uint64_t behind = r->wpos - (r->base + r->chunk);
			if (behind >= r->cap) {
				while (s->readers)
					mark_overrun(r, s->readers);
			} else if (s->readers || behind < r->retain) {
				break;
			}
			chunk_release(r, s->data);
			s->data = NULL;
			r->head = (r->head + 1) % r->nslots;
			r->count--;
			r->base += r->chunk;
		}
		if (r->wpos <= r->cap || r->count == 0)
			return;
		uint64_t limit = r->wpos - r->cap;
		if (r->base >= limit)
			return;
		/* only the oldest chunk can hold positions before the limit */
		bool marked = false;
		struct ring_reader *rd = slot_at(r, 0)->readers;
		while (rd) {
			struct ring_reader *next = rd->next;
			if (rd->pos < limit) {
				mark_overrun(r, rd);
				marked = true;
			}
			rd = next;
		}
		if (!marked || slot_at(r, 0)->readers)
			return;
	}
}

int ring_set_mode(struct ring *r, enum ring_mode mode, size_t retain)
{
	if (retain > r->cap || (mode != RING_BACKPRESSURE && mode != RING_DROP_SLOW))
		return -EINVAL;
	r->mode = mode;
	r->retain = retain;
	trim(r);
	return 0;
}

/* The slowest reader not overrun is in the oldest slot that has readers. */
static uint64_t min_reader_pos(const struct ring *r)
{
	for (size_t rel = 0; rel <= r->count; rel++) {
		const struct ring_reader *rd = slot_at(r, rel)->readers;
		if (!rd)
			continue;
		uint64_t m = rd->pos;
		for (; rd; rd = rd->next)
			if (rd->pos < m)
				m = rd->pos;
		return m;
	}
	return r->wpos;
}

size_t ring_write_space(const struct ring *r)
{
	if (r->mode == RING_DROP_SLOW)
		return r->cap;
	uint64_t used = r->wpos - min_reader_pos(r);
	return used >= r->cap ? 0 : (size_t)(r->cap - used);
}

int ring_write_reserve(struct ring *r, void **ret_ptr, size_t *ret_len)
{
	size_t space = ring_write_space(r);
	if (space == 0)
		return -EAGAIN;
	uint64_t end = r->base + (uint64_t)r->count * r->chunk;
	if (r->wpos == end) {
		/* Trimmed at the last commit: the oldest chunk ends less than
		 * capacity behind, so count * chunk < capacity + chunk and the
		 * new chunk still leaves the live-edge slot free. */
		if (r->count + 1 >= r->nslots)
			return -ENOBUFS;
		char *c = chunk_alloc(r);
		if (!c)
			return -ENOMEM;
		slot_at(r, r->count)->data = c;
		r->count++;
		end += r->chunk;
	}
	size_t room = (size_t)(end - r->wpos);
	if (room > space)
		room = space;
	r->reserved = room;
	*ret_ptr = slot_at(r, r->count - 1)->data + (size_t)(r->wpos % r->chunk);
	*ret_len = room;
	return 0;
}

void ring_write_commit(struct ring *r, size_t n)
{
	if (n > r->reserved)
		n = r->reserved;
	r->reserved = 0;
	if (n == 0)
		return;
	r->wpos += n;
	trim(r);
}

long ring_write(struct ring *r, const void *data, size_t len)
{
	const char *src = data;
	size_t done = 0;
	while (done < len) {
		void *dst;
		size_t room;
		int rc = ring_write_reserve(r, &dst, &room);
		if (rc == -EAGAIN)
			break;
		if (rc < 0)
			return done ? (long)done : rc;
		if (room > len - done)
			room = len - done;
		memcpy(dst, src + done, room);
		ring_write_commit(r, room);
		done += room;
	}
	return (long)done;
}

uint64_t ring_write_pos(const struct ring *r)
{
	return r->wpos;
}

uint64_t ring_start_pos(const struct ring *r)
{
	if (r->count == 0)
		return r->wpos;
	uint64_t oldest_allowed = r->wpos > r->cap ? r->wpos - r->cap : 0;
	return r->base > oldest_allowed ? r->base : oldest_allowed;
}

int ring_join_pos(const struct ring *r, uint64_t behind, size_t align, uint64_t *ret_pos)
{
	uint64_t start = ring_start_pos(r);
	uint64_t held = r->wpos - start;
	uint64_t pos = r->wpos - (behind < held ? behind : held);
	if (align > 1) {
		pos -= pos % align;
		if (pos < start) {
			uint64_t up = start + (align - start % align) % align;
			if (up > r->wpos)
				return -EAGAIN;
			pos = up;
		}
	}
	*ret_pos = pos;
	return 0;
}

void ring_mark_rap(struct ring *r, uint64_t pos)
{
	if (pos > r->wpos || (r->nraps > 0 && pos <= r->raps[(r->nraps - 1) % RING_RAPS]))
		return;
	r->raps[r->nraps % RING_RAPS] = pos;
	r->nraps++;
}

int ring_join_rap(const struct ring *r, uint64_t behind, uint64_t *ret_pos)
{
	if (r->nraps == 0)
		return -ENOENT;
	uint64_t start = ring_start_pos(r);
	uint64_t limit = r->wpos > behind ? r->wpos - behind : 0;
	if (limit < start)
		limit = start;
	uint64_t pos = r->raps[(r->nraps - 1) % RING_RAPS];
	if (pos < limit || pos > r->wpos)
		return -ENOENT;
	*ret_pos = pos;
	return 0;
}

size_t ring_memory(const struct ring *r)
{
	return r->mem;
}

size_t ring_chunks(const struct ring *r)
{
	return r->count;
}

size_t ring_reader_count(const struct ring *r)
{
	return r->nreaders;
}

int ring_reader_attach(struct ring *r, uint64_t pos, struct ring_reader **ret)
{
	struct ring_reader *rd = calloc(1, sizeof(*rd));
	if (!rd)
		return -ENOMEM;
	uint64_t start = ring_start_pos(r);
	if (pos < start)
		pos = start;
	if (pos > r->wpos)
		pos = r->wpos;
	rd->ring = r;
	rd->pos = pos;
	list_push(&slot_at(r, rel_of(r, pos))->readers, rd);
	r->nreaders++;
	*ret = rd;
	return 0;
}

void ring_reader_detach(struct ring_reader *rd)
{
	if (!rd)
		return;
	struct ring *r = rd->ring;
	list_remove(rd);
	r->nreaders--;
	free(rd);
	trim(r);
}

void ring_reader_set_owner(struct ring_reader *rd, void *owner)
{
	rd->owner = owner;
}

void *ring_reader_owner(const struct ring_reader *rd)
{
	return rd->owner;
}

int ring_reader_iov(const struct ring_reader *rd, struct iovec *iov, int max, size_t max_bytes)
{
	const struct ring *r = rd->ring;
	if (rd->overrun)
		return 0;
	uint64_t pos = rd->pos;
	int n = 0;
	while (n < max && pos < r->wpos && max_bytes > 0) {
		size_t rel = rel_of(r, pos);
		size_t off = (size_t)(pos % r->chunk);
		uint64_t chunk_end = pos - off + r->chunk;
		uint64_t end = chunk_end < r->wpos ? chunk_end : r->wpos;
		size_t len = (size_t)(end - pos);
		if (len > max_bytes)
			len = max_bytes;
		iov[n].iov_base = slot_at(r, rel)->data + off;
		iov[n].iov_len = len;
		n++;
		pos += len;
		max_bytes -= len;
	}
	return n;
}

void ring_reader_consume(struct ring_reader *rd, size_t n)
{
	struct ring *r = rd->ring;
	if (rd->overrun)
		return;
	uint64_t lag = r->wpos - rd->pos;
	if (n > lag)
		n = (size_t)lag;
	if (n == 0)
		return;
	size_t old_rel = rel_of(r, rd->pos);
	rd->pos += n;
	size_t new_rel = rel_of(r, rd->pos);
	if (new_rel == old_rel)
		return;
	list_remove(rd);
	list_push(&slot_at(r, new_rel)->readers, rd);
	if (old_rel == 0)
		trim(r);
}

uint64_t ring_reader_lag(const struct ring_reader *rd)
{
	return rd->ring->wpos - rd->pos;
}

uint64_t ring_reader_pos(const struct ring_reader *rd)
{
	return rd->pos;
}

bool ring_reader_overrun(const struct ring_reader *rd)
{
	return rd->overrun;
}

struct ring_reader *ring_first_overrun(const struct ring *r)
{
	return r->overrun;
}
