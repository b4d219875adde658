#include "controlplane/engstat.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acexy/clock.h"
#include "acexy/curl_ev.h"
#include "acexy/engine_answer.h"
#include "acexy/http_fetch.h"
#include "acexy/log.h"
#include "controlplane/lease.h"

#define TICK_S       0.25
#define EVERY_S      10.0
#define MAX_INFLIGHT 4
#define BODY_MAX     16384

struct stat_call {
	struct stat_call *next;
	struct engstat *e;
	uint64_t lease;
	struct http_fetch *http;
};

struct engstat {
	struct ev_loop *loop;
	struct lease_table *leases;
	engstat_engine_ok engine_ok;
	void *ud;
	struct curl_ev *ce;
	ev_timer tick;
	struct stat_call *calls;
	unsigned inflight;
};

static void unlink_call(struct engstat *e, struct stat_call *c)
{
	for (struct stat_call **pp = &e->calls; *pp; pp = &(*pp)->next) {
		if (*pp == c) {
			*pp = c->next;
			break;
		}
	}
	e->inflight--;
}

static struct cp_lease *find(struct engstat *e, uint64_t id)
{
	return lease_find(e->leases, id);
}

static void on_done(void *ud, const struct http_fetch_result *r)
{
	struct stat_call *c = ud;
	struct engstat *e = c->e;
	unlink_call(e, c);
	struct cp_lease *l = find(e, c->lease);
	struct engine_stat st;
	if (l && r->res == CURLE_OK && r->status == 200 &&
	    engine_stat_parse(r->body, r->len, &st) == 0) {
		l->stat_at = acexy_now();
		if (!st.known) {
			snprintf(l->stat_status, sizeof(l->stat_status), "unknown session");
		} else if (!st.empty) {
			snprintf(l->stat_status, sizeof(l->stat_status), "%s", st.status);
			l->stat_peers = st.peers;
			l->stat_down_kbps = st.speed_down;
			l->stat_up_kbps = st.speed_up;
		}
	} else if (l) {
		l->stat_at = acexy_now();
		snprintf(l->stat_status, sizeof(l->stat_status), "stat failed");
	}
	free(c);
}

static void on_tick(struct ev_loop *loop, ev_timer *t, int revents)
{
	(void)loop;
	(void)revents;
	struct engstat *e = t->data;
	double now = acexy_now();
	/* the lease read longest ago, if it is due */
	struct cp_lease *due = NULL;
	for (struct cp_lease *l = e->leases->head; l; l = l->next) {
		if (l->state != LEASE_STARTED || !l->stat_url[0] || now - l->stat_at < EVERY_S ||
		    now - l->stat_tried < EVERY_S)
			continue;
		/* only engines we know of (a rebuilt lease names its own) */
		if (e->engine_ok && !e->engine_ok(e->ud, l->host, l->port)) {
			l->stat_tried = now;
			continue;
		}
		if (!due || l->stat_tried < due->stat_tried)
			due = l;
	}
	if (!due || e->inflight >= MAX_INFLIGHT)
		return;
	due->stat_tried = now;
	struct stat_call *c = calloc(1, sizeof(*c));
	if (!c)
		return;
	c->e = e;
	c->lease = due->id;
	struct http_fetch_req req = {.url = due->stat_url, .max = BODY_MAX, .timeout_ms = 3000L};
	c->http = http_fetch_start(e->ce, &req, on_done, c);
	if (!c->http) {
		free(c);
		return;
	}
	c->next = e->calls;
	e->calls = c;
	e->inflight++;
}

int engstat_start(struct ev_loop *loop, struct curl_ev *ce, struct lease_table *leases,
                  engstat_engine_ok engine_ok, void *ud, struct engstat **ret)
{
	struct engstat *e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	e->loop = loop;
	e->leases = leases;
	e->engine_ok = engine_ok;
	e->ud = ud;
	e->ce = ce; /* the controlplane's one curl multi */
	ev_timer_init(&e->tick, on_tick, TICK_S, TICK_S);
	e->tick.data = e;
	ev_timer_start(loop, &e->tick);
	*ret = e;
	return 0;
}

void engstat_stop(struct engstat *e)
{
	if (!e)
		return;
	ev_timer_stop(e->loop, &e->tick);
	while (e->calls) {
		struct stat_call *c = e->calls;
		e->calls = c->next;
		http_fetch_cancel(c->http);
		free(c);
	}
	free(e);
}
