/* Leases: a list for order and two chained hashes (id, assign request) for
 * O(1) lookups; the tables double when the count passes the bucket count. */
#include "controlplane/lease.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BUCKETS_MIN 64

struct lease_engine_count {
	struct lease_engine_count *next;
	unsigned n;
	char container_id[128];
};

static struct lease_engine_count **engine_slot(const struct lease_table *t, const char *cid)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	for (const char *p = cid; *p; p++)
		h = (h ^ (unsigned char)*p) * 0x100000001b3ULL;
	return (struct lease_engine_count **)&t->by_engine[h % LEASE_ENGINE_BUCKETS];
}

/* Counts a lease on its orchestrator engine (+1 or -1). */
static void engine_count(struct lease_table *t, const struct cp_lease *l, int delta)
{
	if (l->fallback || !l->container_id[0])
		return;
	struct lease_engine_count **pp = engine_slot(t, l->container_id);
	for (; *pp; pp = &(*pp)->next)
		if (strcmp((*pp)->container_id, l->container_id) == 0)
			break;
	if (!*pp) {
		if (delta < 0)
			return;
		struct lease_engine_count *e = calloc(1, sizeof(*e));
		if (!e)
			return; /* counted as 0: the selection may over-assign, never crash */
		snprintf(e->container_id, sizeof(e->container_id), "%s", l->container_id);
		*pp = e;
	}
	struct lease_engine_count *e = *pp;
	if (delta > 0)
		e->n++;
	else if (e->n > 0 && --e->n == 0) {
		*pp = e->next;
		free(e);
	}
}

static size_t slot(uint64_t k, size_t n)
{
	k ^= k >> 33;
	k *= 0xff51afd7ed558ccdULL;
	k ^= k >> 33;
	return (size_t)(k & (n - 1));
}

static void hash_insert(struct lease_table *t, struct cp_lease *l)
{
	size_t i = slot(l->id, t->nbuckets);
	l->id_next = t->by_id[i];
	t->by_id[i] = l;
	if (!l->assign_req)
		return; /* rebuilt: no request to answer again */
	size_t j = slot(l->assign_req, t->nbuckets);
	l->req_next = t->by_req[j];
	t->by_req[j] = l;
}

/* Grows the buckets; on allocation failure keeps the old ones (longer
 * chains, still correct). */
static void grow(struct lease_table *t)
{
	size_t n = t->nbuckets ? t->nbuckets * 2 : BUCKETS_MIN;
	struct cp_lease **a = calloc(n, sizeof(*a)), **b = calloc(n, sizeof(*b));
	if (!a || !b) {
		free(a);
		free(b);
		return;
	}
	free(t->by_id);
	free(t->by_req);
	t->by_id = a;
	t->by_req = b;
	t->nbuckets = n;
	for (struct cp_lease *l = t->head; l; l = l->next)
		hash_insert(t, l);
}

void lease_table_init(struct lease_table *t)
{
	memset(t, 0, sizeof(*t));
}

void lease_table_clear(struct lease_table *t)
{
	while (t->head) {
		struct cp_lease *n = t->head->next;
		free(t->head);
		t->head = n;
	}
	free(t->by_id);
	free(t->by_req);
	for (size_t i = 0; i < LEASE_ENGINE_BUCKETS; i++)
		while (t->by_engine[i]) {
			struct lease_engine_count *n = t->by_engine[i]->next;
			free(t->by_engine[i]);
			t->by_engine[i] = n;
		}
	uint64_t last = t->last_id;
	memset(t, 0, sizeof(*t));
	t->last_id = last;
}

static struct cp_lease *insert(struct lease_table *t, struct cp_lease *l)
{
	if (t->count + 1 > t->nbuckets)
		grow(t);
	if (!t->nbuckets) {
		free(l);
		return NULL;
	}
	l->prev = NULL;
	l->next = t->head;
	if (t->head)
		t->head->prev = l;
	t->head = l;
	t->count++;
	hash_insert(t, l);
	engine_count(t, l, +1);
	return l;
}

struct cp_lease *lease_create(struct lease_table *t, const struct lease_spec *s, double now)
{
	struct cp_lease *l = calloc(1, sizeof(*l));
	if (!l)
		return NULL;
	l->id = ++t->last_id;
	snprintf(l->instance, sizeof(l->instance), "%s", s->instance ? s->instance : "");
	snprintf(l->key_type, sizeof(l->key_type), "%s", s->key_type ? s->key_type : "");
	snprintf(l->key, sizeof(l->key), "%s", s->key ? s->key : "");
	snprintf(l->scheme, sizeof(l->scheme), "%s", s->scheme ? s->scheme : "");
	snprintf(l->host, sizeof(l->host), "%s", s->host ? s->host : "");
	snprintf(l->container_id, sizeof(l->container_id), "%s",
	         s->container_id ? s->container_id : "");
	l->port = s->port;
	l->fallback = s->fallback;
	l->state = LEASE_ASSIGNED;
	l->created = now;
	l->assign_req = s->assign_req;
	return insert(t, l);
}

struct cp_lease *lease_rebuild(struct lease_table *t, const char *instance,
                               const struct proto_stream *s, double now)
{
	if (!s->lease || lease_find(t, s->lease))
		return NULL;
	struct cp_lease *l = calloc(1, sizeof(*l));
	if (!l)
		return NULL;
	l->id = s->lease;
	if (l->id > t->last_id)
		t->last_id = l->id; /* never hand out a live id again */
	snprintf(l->instance, sizeof(l->instance), "%s", instance);
	snprintf(l->key_type, sizeof(l->key_type), "%s", s->key_type);
	snprintf(l->key, sizeof(l->key), "%s", s->key);
	snprintf(l->stat_url, sizeof(l->stat_url), "%s", s->stat_url);
	l->is_live = s->is_live;
	snprintf(l->host, sizeof(l->host), "%s", s->host);
	snprintf(l->scheme, sizeof(l->scheme), "%s", s->scheme);
	l->port = (unsigned)s->port;
	snprintf(l->container_id, sizeof(l->container_id), "%s", s->container_id);
	snprintf(l->playback_session_id, sizeof(l->playback_session_id), "%s",
	         s->playback_session_id);
	snprintf(l->command_url, sizeof(l->command_url), "%s", s->command_url);
	l->fallback = s->fallback;
	l->bytes = s->bytes;
	l->viewers = (unsigned)s->viewers;
	l->failovers = (unsigned)s->failovers;
	l->state = LEASE_STARTED;
	l->created = now;
	return insert(t, l);
}

struct cp_lease *lease_find(const struct lease_table *t, uint64_t id)
{
	if (!t->nbuckets)
		return NULL;
	for (struct cp_lease *l = t->by_id[slot(id, t->nbuckets)]; l; l = l->id_next)
		if (l->id == id)
			return l;
	return NULL;
}

struct cp_lease *lease_find_request(const struct lease_table *t, const char *instance, uint64_t req)
{
	if (!t->nbuckets || !req)
		return NULL;
	for (struct cp_lease *l = t->by_req[slot(req, t->nbuckets)]; l; l = l->req_next)
		if (l->assign_req == req && strcmp(l->instance, instance) == 0)
			return l;
	return NULL;
}

static void unchain(struct cp_lease **pp, struct cp_lease *l, size_t link_off)
{
	for (; *pp; pp = (struct cp_lease **)((char *)*pp + link_off)) {
		if (*pp == l) {
			*pp = *(struct cp_lease **)((char *)l + link_off);
			return;
		}
	}
}

void lease_remove(struct lease_table *t, struct cp_lease *l)
{
	unchain(&t->by_id[slot(l->id, t->nbuckets)], l, offsetof(struct cp_lease, id_next));
	if (l->assign_req)
		unchain(&t->by_req[slot(l->assign_req, t->nbuckets)], l,
		        offsetof(struct cp_lease, req_next));
	if (l->prev)
		l->prev->next = l->next;
	else
		t->head = l->next;
	if (l->next)
		l->next->prev = l->prev;
	t->count--;
	engine_count(t, l, -1);
	free(l);
}

unsigned lease_count_on(const struct lease_table *t, const char *container_id)
{
	for (const struct lease_engine_count *e = *engine_slot(t, container_id); e; e = e->next)
		if (strcmp(e->container_id, container_id) == 0)
			return e->n;
	return 0;
}

json_t *lease_json(const struct cp_lease *l, double now)
{
	json_t *row = json_pack(
	        "{s:I,s:s,s:s,s:s,s:s,s:i,s:s,s:b,s:s,s:I,s:i,s:f,s:f,s:s}", "id",
	        (json_int_t)l->id, "instance", l->instance, "key_type", l->key_type, "content",
	        l->key, "engine_host", l->host, "engine_port", (int)l->port, "container_id",
	        l->container_id, "fallback", l->fallback, "state",
	        l->state == LEASE_STARTED ? "started" : "assigned", "bytes", (json_int_t)l->bytes,
	        "viewers", (int)l->viewers, "age_s", now - l->created, "rate_mbps",
	        l->rate_bps / 1e6, "stream_id", l->stream_id);
	if (!row)
		return NULL;
	json_object_set_new(row, "failovers", json_integer(l->failovers));
	/* the engine's view, when read (null before) */
	bool read = l->stat_at > 0;
	json_object_set_new(row, "engine_status", read ? json_string(l->stat_status) : json_null());
	json_object_set_new(row, "peers", read ? json_integer(l->stat_peers) : json_null());
	json_object_set_new(row, "speed_down_kbps",
	                    read ? json_integer(l->stat_down_kbps) : json_null());
	json_object_set_new(row, "speed_up_kbps",
	                    read ? json_integer(l->stat_up_kbps) : json_null());
	return row;
}
