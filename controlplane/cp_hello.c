/* hello on the control socket: who may talk (ACEXY_CONTROL_TOKEN), which
 * connection an instance name belongs to, and the leases a dataplane
 * re-announces after a controlplane restart (its claims are checked: ids
 * are ours, URLs point at the lease's engine, counts are capped, lookups
 * are by index so a big hello costs linear time). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acexy/log.h"
#include "acexy/secret.h"
#include "controlplane/cp.h"
#include "controlplane/cp_peers.h"
#include "controlplane/engine_url.h"
#include "controlplane/events.h"

/* A holder of an instance name silent this long (three heartbeats) yields
 * the name to a new connection that says hello with it. */
#define CP_HOLDER_SILENT_S 3.0

/* A refusal of the token: counted, logged at most once a second, answered
 * within CP_PEERS_REFUSALS_PER_S; beyond it the connection is closed. */
static void refuse_token(struct cp *cp, struct ipc_req *req, uint64_t id, uint32_t pipe,
                         const char *instance)
{
	double now = acexy_now();
	cp->hello_refused++;
	if (now - cp->refused_log_at >= 1.0) {
		char addr[64];
		ipc_pipe_addr(pipe, addr, sizeof(addr));
		ALOG(ALOG_WARN, "dataplane_refused", ALOG_S("instance", instance),
		     ALOG_S("address", addr), ALOG_S("why", "wrong or missing ACEXY_CONTROL_TOKEN"),
		     ALOG_U("refusals_not_logged", cp->refused_unlogged));
		cp->refused_log_at = now;
		cp->refused_unlogged = 0;
	} else {
		cp->refused_unlogged++;
	}
	if (!cp_peers_refusal_allowed(cp->peers, now)) {
		cp->hello_dropped++;
		ipc_pipe_close(pipe); /* the answer below goes nowhere */
	}
	ipc_reply_error(req, id, "refused",
	                "wrong or missing ACEXY_CONTROL_TOKEN: this controlplane does not accept "
	                "this dataplane");
}

static void claim_refused(struct cp *cp, const char *instance, uint64_t lease, const char *why)
{
	cp->claims_refused++;
	ALOG(ALOG_WARN, "lease_claim_refused", ALOG_S("instance", instance), ALOG_U("lease", lease),
	     ALOG_S("why", why));
}

static unsigned leases_of(struct cp *cp, const char *instance)
{
	unsigned n = 0;
	for (struct cp_lease *l = cp->leases.head; l; l = l->next)
		n += strcmp(l->instance, instance) == 0;
	return n;
}

static void rebuild_leases(struct cp *cp, const char *instance, const struct proto_hello *h)
{
	unsigned have = leases_of(cp, instance);
	for (size_t i = 0; i < h->n_streams; i++) {
		const struct proto_stream *s = &h->streams[i];
		uint64_t id = s->lease;
		struct cp_lease *known = id ? lease_find(&cp->leases, id) : NULL;
		if (known && strcmp(known->instance, instance) == 0)
			continue; /* ours already */
		if (!id || id >= CP_LEASE_ID_MAX) {
			claim_refused(cp, instance, id, "not a lease id this controlplane gives");
			continue;
		}
		if (known) {
			claim_refused(cp, instance, id, "the lease belongs to another dataplane");
			continue;
		}
		if (have >= CP_HELLO_STREAMS_MAX) {
			claim_refused(cp, instance, id, "more leases than one dataplane may hold");
			continue;
		}
		if (!engine_url_on(s->stat_url, s->host, (unsigned)s->port) ||
		    !engine_url_on(s->command_url, s->host, (unsigned)s->port)) {
			claim_refused(cp, instance, id, "its URLs are not on its engine");
			continue;
		}
		/* below CP_LEASE_ID_MAX: later ids (above it) cannot overflow */
		struct cp_lease *l = lease_rebuild(&cp->leases, instance, s, acexy_now());
		if (!l)
			return; /* out of memory */
		/* the same stream id as before the restart: its events (in the
		 * spool) and its end match what the orchestrator knows */
		if (cp->events && !l->fallback && l->container_id[0])
			events_stream_id(l->container_id, l->playback_session_id, l->stream_id,
			                 sizeof(l->stream_id));
		have++;
		ALOG(ALOG_INFO, "lease_rebuilt", ALOG_U("lease", id), ALOG_S("instance", instance),
		     ALOG_S("content", l->key));
	}
}

void cp_handle_hello(struct cp *cp, struct ipc_req *req, const struct proto_msg *m, uint32_t pipe)
{
	const struct proto_hello *h = &m->hello;
	const char *instance = h->instance;
	const char *token = acexy_cfg_s(cp->cfg, ACEXY_S_CONTROL_TOKEN);
	if (*token && !acexy_secret_equal(h->token, strlen(h->token), token)) {
		refuse_token(cp, req, m->id, pipe, instance);
		return;
	}
	if (!*instance || h->n_streams > CP_HELLO_STREAMS_MAX || h->n_ended > CP_HELLO_ENDED_MAX) {
		cp->bad_messages++;
		char why[160];
		snprintf(why, sizeof(why),
		         !*instance ? "hello without an instance name"
		                    : "too many streams or ended streams in one hello (at most %d "
		                      "each)",
		         CP_HELLO_STREAMS_MAX);
		ALOG(ALOG_WARN, "bad_message", ALOG_S("socket", "control"), ALOG_S("error", why),
		     ALOG_S("instance", instance), ALOG_U("streams", h->n_streams),
		     ALOG_U("ended", h->n_ended));
		ipc_reply_error(req, m->id, "malformed", why);
		return;
	}
	struct cp_dataplane *d = cp_dataplane_find(cp, instance);
	char addr[64] = "";
	if (d && d->pipe && d->pipe != pipe && ipc_pipe_addr(d->pipe, addr, sizeof(addr)) &&
	    acexy_now() - d->last_seen > CP_HOLDER_SILENT_S) {
		/* a holder that stopped talking (its host died; a half-open TCP
		 * connection lingers) yields the name to the one that speaks */
		ALOG(ALOG_WARN, "instance_taken_over", ALOG_S("instance", instance),
		     ALOG_S("from", addr), ALOG_D("holder_silent_s", acexy_now() - d->last_seen));
		cp_peers_removed(cp->peers, d->pipe);
		ipc_pipe_close(d->pipe);
		d->pipe = 0;
	}
	if (d && d->pipe && d->pipe != pipe && ipc_pipe_addr(d->pipe, addr, sizeof(addr))) {
		/* the name is held by a live connection: the first one keeps it */
		cp->instance_in_use++;
		ALOG(ALOG_WARN, "instance_in_use", ALOG_S("instance", instance),
		     ALOG_S("holder", addr), ALOG_S("why", "another connection said hello first"));
		ipc_reply_error(req, m->id, "instance_in_use",
		                "another connected dataplane has this instance name");
		return;
	}
	bool known = d != NULL;
	d = cp_dataplane_touch(cp, instance);
	if (!d) {
		ipc_reply_error(req, m->id, "internal", "out of memory");
		return;
	}
	d->pipe = pipe;
	ipc_pipe_addr(pipe, d->addr, sizeof(d->addr));
	cp_peers_bind(cp->peers, pipe, acexy_now());
	snprintf(d->software, sizeof(d->software), "%s", h->software);
	d->draining = h->draining;
	rebuild_leases(cp, instance, h);
	for (size_t i = 0; i < h->n_ended; i++) {
		const struct proto_ended *e = &h->ended[i];
		struct cp_lease *l = lease_find(&cp->leases, e->lease);
		if (l && strcmp(l->instance, instance) == 0)
			cp_lease_end(cp, l, e->reason);
		else if (!l && !e->fallback &&
		         !cp_session_leased(cp, e->container_id, e->playback_session_id))
			events_stream_ended_unleased(cp->events, e->container_id,
			                             e->playback_session_id, e->reason);
	}
	if (!known)
		ALOG(ALOG_INFO, "dataplane_connected", ALOG_S("instance", instance),
		     ALOG_S("address", d->addr), ALOG_S("software", d->software),
		     ALOG_U("streams", h->n_streams));
	struct proto_hello_reply r = {.controlplane = cp->container_id, .software = ACEXY_VERSION};
	ipc_reply_msg(req, PROTO_HELLO_REPLY, m->id, &r);
}
