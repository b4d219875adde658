#include "controlplane/cp_peers.h"

#include <errno.h>
#include <stdlib.h>

#include "acexy/ipc.h"

#define NBUCKETS 1024

struct peer {
	struct peer *next;
	uint32_t pipe;
	bool bound;
	bool seen_added; /* nng's "added" event came (a hello may come first) */
	double added;
};

struct cp_peers {
	struct peer *b[NBUCKETS];
	unsigned n;
	double tokens, tokens_at;
};

int cp_peers_new(struct cp_peers **ret)
{
	struct cp_peers *p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->tokens = CP_PEERS_REFUSALS_PER_S;
	*ret = p;
	return 0;
}

void cp_peers_free(struct cp_peers *p)
{
	if (!p)
		return;
	for (unsigned i = 0; i < NBUCKETS; i++) {
		while (p->b[i]) {
			struct peer *n = p->b[i]->next;
			free(p->b[i]);
			p->b[i] = n;
		}
	}
	free(p);
}

static struct peer **slot(const struct cp_peers *p, uint32_t pipe)
{
	struct peer **pp = (struct peer **)&p->b[pipe % NBUCKETS];
	while (*pp && (*pp)->pipe != pipe)
		pp = &(*pp)->next;
	return pp;
}

static struct peer *peer_new(struct cp_peers *p, struct peer **pp, uint32_t pipe, double now)
{
	struct peer *e = calloc(1, sizeof(*e));
	if (!e)
		return NULL;
	e->pipe = pipe;
	e->added = now;
	*pp = e;
	p->n++;
	return e;
}

void cp_peers_added(struct cp_peers *p, uint32_t pipe, double now)
{
	struct peer **pp = slot(p, pipe);
	if (*pp) {
		/* its hello came first (nng receives on a pipe before the
		 * "added" event reaches the loop): it stays bound */
		(*pp)->seen_added = true;
		return;
	}
	struct peer *e = peer_new(p, pp, pipe, now);
	if (!e) {
		ipc_pipe_close(pipe); /* cannot keep track of it: not let in */
		return;
	}
	e->seen_added = true;
}

void cp_peers_removed(struct cp_peers *p, uint32_t pipe)
{
	struct peer **pp = slot(p, pipe);
	if (!*pp)
		return;
	struct peer *e = *pp;
	*pp = e->next;
	free(e);
	p->n--;
}

void cp_peers_bind(struct cp_peers *p, uint32_t pipe, double now)
{
	struct peer **pp = slot(p, pipe);
	struct peer *e = *pp ? *pp : peer_new(p, pp, pipe, now);
	if (e)
		e->bound = true;
}

bool cp_peers_bound(const struct cp_peers *p, uint32_t pipe)
{
	struct peer *e = *slot(p, pipe);
	return e && e->bound;
}

unsigned cp_peers_expire(struct cp_peers *p, double now, double limit_s)
{
	unsigned n = 0;
	for (unsigned i = 0; i < NBUCKETS; i++) {
		struct peer **pp = &p->b[i];
		while (*pp) {
			struct peer *e = *pp;
			if (!e->seen_added && now - e->added > limit_s) {
				/* bound by a hello, but nng never said it was added:
				 * it was gone before the hello was handled (its
				 * removal came first); forgotten, not closed */
				*pp = e->next;
				free(e);
				p->n--;
				continue;
			}
			if (!e->bound && now - e->added > limit_s) {
				/* removed when nng says the pipe is gone */
				e->added = now;
				ipc_pipe_close(e->pipe);
				n++;
			}
			pp = &e->next;
		}
	}
	return n;
}

bool cp_peers_refusal_allowed(struct cp_peers *p, double now)
{
	double dt = now - p->tokens_at;
	p->tokens_at = now;
	p->tokens += dt * CP_PEERS_REFUSALS_PER_S;
	if (p->tokens > CP_PEERS_REFUSALS_PER_S)
		p->tokens = CP_PEERS_REFUSALS_PER_S;
	if (p->tokens < 1.0)
		return false;
	p->tokens -= 1.0;
	return true;
}

unsigned cp_peers_count(const struct cp_peers *p)
{
	return p->n;
}
