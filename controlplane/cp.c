/* Controlplane logic: dataplanes, leases and the messages that change them.
 * Single-engine mode assigns the fallback engine (ACEXY_HOST/PORT/SCHEME);
 * the orchestrator mode (orch.c) decides, answer_assign() leases. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "acexy/curl_ev.h"
#include "acexy/engine_stop.h"
#include "acexy/log.h"
#include "acexy/proto.h"
#include "controlplane/cp.h"
#include "controlplane/cp_peers.h"
#include "controlplane/engine_url.h"
#include "controlplane/events.h"
#include "controlplane/fallback.h"
#include "controlplane/orch.h"

static void reply_error(struct ipc_req *req, uint64_t id, const char *code, const char *msg)
{
	ipc_reply_error(req, id, code, msg);
}

struct cp_dataplane *cp_dataplane_find(struct cp *cp, const char *instance)
{
	for (struct cp_dataplane *d = cp->dataplanes; d; d = d->next)
		if (strcmp(d->instance, instance) == 0)
			return d;
	return NULL;
}

struct cp_dataplane *cp_dataplane_touch(struct cp *cp, const char *instance)
{
	struct cp_dataplane *d = cp_dataplane_find(cp, instance);
	if (!d) {
		d = calloc(1, sizeof(*d));
		if (!d)
			return NULL;
		snprintf(d->instance, sizeof(d->instance), "%s", instance);
		d->first_seen = acexy_now();
		d->next = cp->dataplanes;
		cp->dataplanes = d;
	}
	d->last_seen = acexy_now();
	return d;
}

/* A lease ends: the orchestrator hears of it, the logs say so, it goes. */
void cp_lease_end(struct cp *cp, struct cp_lease *lease, const char *reason)
{
	events_stream_ended(cp->events, lease, reason);
	CP_DEBUG(cp, DEBUGLOG_STREAMS, "ended", "{s:I,s:s,s:s,s:s,s:s,s:I,s:f,s:s}", "lease",
	         (json_int_t)lease->id, "stream_id", lease->stream_id, "key", lease->key,
	         "container_id", lease->container_id, "engine", lease->host, "bytes",
	         (json_int_t)lease->bytes, "duration_ms", (acexy_now() - lease->created) * 1000.0,
	         "reason", reason ? reason : "");
	ALOG(ALOG_INFO, "lease_released", ALOG_U("lease", lease->id),
	     ALOG_S("instance", lease->instance), ALOG_S("content", lease->key),
	     ALOG_S("reason", reason), ALOG_U("bytes", lease->bytes));
	lease_remove(&cp->leases, lease);
}

bool cp_queue_command(struct cp_dataplane *d, const char *cmd, uint64_t lease)
{
	if (d->ncmds >= CP_MAX_COMMANDS) {
		ALOG(ALOG_ERROR, "command_queue_full", ALOG_S("instance", d->instance),
		     ALOG_S("command", cmd));
		return false;
	}
	struct cp_command *c = &d->cmds[d->ncmds++];
	snprintf(c->cmd, sizeof(c->cmd), "%s", cmd);
	c->lease = lease;
	return true;
}

struct cp_dataplane *cp_dataplane_bound(struct cp *cp, const char *instance, uint32_t pipe)
{
	struct cp_dataplane *d = cp_dataplane_find(cp, instance);
	return d && d->pipe == pipe ? d : NULL;
}

bool cp_session_leased(struct cp *cp, const char *container_id, const char *playback_session_id)
{
	if (!*playback_session_id)
		return false;
	for (struct cp_lease *l = cp->leases.head; l; l = l->next)
		if (strcmp(l->playback_session_id, playback_session_id) == 0 &&
		    strcmp(l->container_id, container_id) == 0)
			return true;
	return false;
}

bool cp_engine_known(struct cp *cp, const char *host, unsigned port)
{
	if (port == (unsigned)acexy_cfg_u(cp->cfg, ACEXY_S_PORT) &&
	    strcasecmp(host, acexy_cfg_s(cp->cfg, ACEXY_S_HOST)) == 0)
		return true;
	return cp->orch && orch_engine_known(cp->orch, host, port);
}

static void reply_lease(struct ipc_req *req, uint64_t id, const struct cp_lease *l)
{
	struct proto_lease b = {.lease = l->id,
	                        .scheme = l->scheme,
	                        .host = l->host,
	                        .port = l->port,
	                        .fallback = l->fallback,
	                        .container_id = l->container_id};
	ipc_reply_msg(req, PROTO_LEASE, id, &b);
}

/* ---- engine choice: single-engine mode here; the orchestrator mode
 * decides in orch.c and the lease and answer are made here ---- */

/* An assign request while the orchestrator mode decides it. */
struct assign_token {
	struct ipc_req *req;
	uint64_t id;
	char instance[96], key_type[16], key[512];
};

/* Leases the decided engine (or refuses) and answers the dataplane; the
 * lease id, 0 for a refusal. */
static uint64_t answer_assign(struct cp *cp, struct ipc_req *req, uint64_t id, const char *instance,
                              const char *key_type, const char *key, const struct orch_decision *d)
{
	struct cp_lease *l = NULL;
	if (d->lease) {
		struct lease_spec spec = {.instance = instance,
		                          .key_type = key_type,
		                          .key = key,
		                          .scheme = d->scheme,
		                          .host = d->host,
		                          .container_id = d->container_id,
		                          .port = d->port,
		                          .fallback = d->fallback,
		                          .assign_req = id};
		l = lease_create(&cp->leases, &spec, acexy_now());
	}
	if (!l) {
		cp->refusals++;
		struct proto_refusal r = {.reason = d->lease ? "out of memory" : d->reason,
		                          .retry_after = d->lease ? 5 : d->retry_after};
		ipc_reply_msg(req, PROTO_REFUSAL, id, &r);
		return 0;
	}
	cp->assignments++;
	reply_lease(req, id, l);
	return l->id;
}

/* orch_env.decided */
static uint64_t orch_decided(void *ud, void *token, const struct orch_decision *d)
{
	struct assign_token *t = token;
	uint64_t lease = answer_assign(ud, t->req, t->id, t->instance, t->key_type, t->key, d);
	free(t);
	return lease;
}

/* ---- control.sock ---- */

/* A URL a dataplane declares for a lease is one the controlplane will call
 * (stat reads, the engine stop): it must be on the engine of that lease. */
static const char *checked_url(struct cp *cp, const struct cp_lease *l, const char *url,
                               const char *what)
{
	if (engine_url_on(url, l->host, l->port))
		return url;
	cp->claims_refused++;
	ALOG(ALOG_WARN, "url_refused", ALOG_U("lease", l->id), ALOG_S("instance", l->instance),
	     ALOG_S("field", what), ALOG_S("engine", l->host), ALOG_U("port", l->port),
	     ALOG_S("why", "not on the engine this lease was given"));
	return "";
}

/* Which bound dataplane sent this (NULL: answered hello_required). */
static struct cp_dataplane *sender(struct cp *cp, struct ipc_req *req, const struct proto_msg *m,
                                   const char *instance, uint32_t pipe)
{
	struct cp_dataplane *d = cp_dataplane_bound(cp, instance, pipe);
	if (!d)
		reply_error(req, m->id, "hello_required",
		            "unknown dataplane on this connection: send hello first");
	return d;
}

static void handle_assign(struct cp *cp, struct ipc_req *req, const struct proto_msg *m,
                          uint32_t pipe)
{
	const struct proto_assign *a = &m->assign;
	const char *instance = a->instance;
	if (!cp_dataplane_bound(cp, instance, pipe)) {
		reply_error(req, m->id, "hello_required", "unknown dataplane: send hello first");
		return;
	}
	cp_dataplane_touch(cp, instance);
	/* nng resends a request whose answer was lost: answer it again */
	struct cp_lease *again = lease_find_request(&cp->leases, instance, m->id);
	if (again) {
		reply_lease(req, m->id, again);
		return;
	}
	if (cp->orch) {
		struct assign_token *t = calloc(1, sizeof(*t));
		if (!t) {
			cp->refusals++;
			struct proto_refusal r = {.reason = "out of memory", .retry_after = 5};
			ipc_reply_msg(req, PROTO_REFUSAL, m->id, &r);
			return;
		}
		t->req = req;
		t->id = m->id;
		snprintf(t->instance, sizeof(t->instance), "%s", instance);
		snprintf(t->key_type, sizeof(t->key_type), "%s", a->key_type);
		snprintf(t->key, sizeof(t->key), "%s", a->key);
		orch_assign(cp->orch, t, a); /* decided now or later: orch_decided */
		return;
	}
	/* single-engine mode: the one engine ACEXY_HOST:ACEXY_PORT */
	struct orch_decision d = {.lease = true,
	                          .scheme = acexy_cfg_s(cp->cfg, ACEXY_S_SCHEME),
	                          .host = acexy_cfg_s(cp->cfg, ACEXY_S_HOST),
	                          .container_id = "",
	                          .port = (unsigned)acexy_cfg_u(cp->cfg, ACEXY_S_PORT),
	                          .fallback = true};
	uint64_t lease = answer_assign(cp, req, m->id, instance, a->key_type, a->key, &d);
	if (!lease) {
		CP_DEBUG(cp, DEBUGLOG_REQUESTS, "assign", "{s:s,s:s,s:s,s:s,s:s,s:i,s:f}",
		         "instance", instance, "key_type", a->key_type, "key", a->key, "outcome",
		         "refusal", "reason", "out of memory", "retry_after", 5, "wait_ms", 0.0);
		return;
	}
	CP_DEBUG(cp, DEBUGLOG_REQUESTS, "assign", "{s:s,s:s,s:s,s:s,s:I,s:f}", "instance", instance,
	         "key_type", a->key_type, "key", a->key, "outcome", "lease", "lease",
	         (json_int_t)lease, "wait_ms", 0.0);
	CP_DEBUG(cp, DEBUGLOG_ENGINE_SELECTION, "fallback", "{s:I,s:s,s:[],s:s,s:s,s:f}", "lease",
	         (json_int_t)lease, "key", a->key, "candidates", "winner", "", "why",
	         "single-engine mode: the one engine ACEXY_HOST:ACEXY_PORT", "took_ms", 0.0);
	ALOG(ALOG_INFO, "lease_granted", ALOG_U("lease", lease), ALOG_S("instance", instance),
	     ALOG_S("content", a->key), ALOG_S("engine", d.host), ALOG_U("port", d.port),
	     ALOG_B("fallback", true));
}

static void handle_session_started(struct cp *cp, struct ipc_req *req, const struct proto_msg *m,
                                   uint32_t pipe)
{
	const struct proto_session_started *b = &m->session_started;
	if (!sender(cp, req, m, b->instance, pipe))
		return;
	struct cp_lease *l = lease_find(&cp->leases, b->lease);
	if (l && strcmp(l->instance, b->instance) == 0) {
		l->state = LEASE_STARTED;
		snprintf(l->playback_session_id, sizeof(l->playback_session_id), "%s",
		         b->playback_session_id);
		snprintf(l->stat_url, sizeof(l->stat_url), "%s",
		         checked_url(cp, l, b->stat_url, "stat_url"));
		snprintf(l->command_url, sizeof(l->command_url), "%s",
		         checked_url(cp, l, b->command_url, "command_url"));
		l->is_live = b->is_live;
		if (!l->stream_id[0])
			events_stream_started(cp->events, l);
		CP_DEBUG(cp, DEBUGLOG_STREAMS, "started", "{s:I,s:s,s:s,s:s,s:s}", "lease",
		         (json_int_t)l->id, "stream_id", l->stream_id, "key", l->key,
		         "container_id", l->container_id, "engine", l->host);
	}
	ipc_reply_msg(req, PROTO_OK, m->id, NULL);
}

static void handle_stream_ended(struct cp *cp, struct ipc_req *req, const struct proto_msg *m,
                                uint32_t pipe)
{
	const struct proto_stream_ended *b = &m->stream_ended;
	if (!sender(cp, req, m, b->instance, pipe))
		return;
	struct cp_lease *l = lease_find(&cp->leases, b->lease);
	if (l && strcmp(l->instance, b->instance) == 0) {
		l->bytes = b->bytes;
		cp_lease_end(cp, l, b->reason);
	} else if (!l && !b->fallback &&
	           !cp_session_leased(cp, b->container_id, b->playback_session_id)) {
		events_stream_ended_unleased(cp->events, b->container_id, b->playback_session_id,
		                             b->reason);
	}
	ipc_reply_msg(req, PROTO_OK, m->id, NULL);
}

static void handle_heartbeat(struct cp *cp, struct ipc_req *req, const struct proto_msg *m,
                             uint32_t pipe)
{
	const struct proto_heartbeat *hb = &m->heartbeat;
	const char *instance = hb->instance;
	struct cp_dataplane *d = sender(cp, req, m, instance, pipe);
	if (!d)
		return;
	cp_dataplane_touch(cp, instance);
	d->draining = hb->draining;
	for (size_t i = 0; i < hb->n_streams; i++) {
		const struct proto_hb_stream *s = &hb->streams[i];
		struct cp_lease *l = lease_find(&cp->leases, s->lease);
		if (l && strcmp(l->instance, instance) == 0) {
			l->bytes = s->bytes;
			l->viewers = (unsigned)s->viewers;
			l->failovers = (unsigned)s->failovers;
			if (s->engine_status[0]) {
				/* the dataplane reads the engine's stat_url; this is what it said */
				l->stat_at = acexy_now();
				snprintf(l->stat_status, sizeof(l->stat_status), "%s",
				         s->engine_status);
				l->stat_peers = (int64_t)s->engine_peers;
				l->stat_down_kbps = (int64_t)s->engine_speed_down;
				l->stat_up_kbps = (int64_t)s->engine_speed_up;
			}
			double t = acexy_now();
			if (l->rate_at > 0 && t - l->rate_at >= 0.9) {
				l->rate_bps =
				        (double)(l->bytes - l->rate_bytes) * 8.0 / (t - l->rate_at);
				l->rate_bytes = l->bytes;
				l->rate_at = t;
			} else if (l->rate_at == 0) {
				l->rate_bytes = l->bytes;
				l->rate_at = t;
			}
		}
	}
	struct proto_command *cmds = d->ncmds ? calloc(d->ncmds, sizeof(*cmds)) : NULL;
	if (d->ncmds && !cmds) {
		reply_error(req, m->id, "internal", "out of memory");
		return;
	}
	for (unsigned k = 0; k < d->ncmds; k++) {
		cmds[k].cmd = d->cmds[k].cmd;
		cmds[k].lease = d->cmds[k].lease;
	}
	struct proto_heartbeat_reply r = {.commands = cmds, .n_commands = d->ncmds};
	ipc_reply_msg(req, PROTO_HEARTBEAT_REPLY, m->id, &r);
	d->ncmds = 0;
	free(cmds);
}

/* A dataplane's record for the debug logs (viewers gone, slow first bytes). */
static void handle_debug_event(struct cp *cp, struct ipc_req *req, const struct proto_msg *m,
                               uint32_t pipe)
{
	if (!cp_peers_bound(cp->peers, pipe)) {
		reply_error(req, m->id, "hello_required", "send hello first");
		return;
	}
	const char *cat = m->debug_event.category;
	static const enum debuglog_cat allowed[] = {DEBUGLOG_DISCONNECTS, DEBUGLOG_STRESS,
	                                            DEBUGLOG_STREAMS, DEBUGLOG_ERRORS,
	                                            DEBUGLOG_FAILOVER};
	for (size_t i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++) {
		if (strcmp(cat, debuglog_cat_name(allowed[i])) != 0)
			continue;
		if (debuglog_enabled(cp->dl)) {
			char event[64];
			json_t *f = proto_debug_record(&m->debug_event, event, sizeof(event));
			if (f)
				debuglog_write(cp->dl, allowed[i], event, f);
		}
		ipc_reply_msg(req, PROTO_OK, m->id, NULL);
		return;
	}
	cp->bad_messages++;
	ALOG(ALOG_WARN, "bad_message", ALOG_S("socket", "control"),
	     ALOG_S("error", "debug_event with an unknown category"), ALOG_S("category", cat));
	reply_error(req, m->id, "malformed", "debug_event: unknown category");
}

static void on_control(void *ud, struct ipc_req *req, const uint8_t *buf, size_t len)
{
	struct cp *cp = ud;
	struct proto_msg m;
	char err[256];
	uint32_t pipe = ipc_req_pipe(req); /* before any answer */
	int rc = proto_decode(buf, len, PROTO_DP_TO_CP, &m, err, sizeof(err));
	if (rc < 0) {
		cp->bad_messages++;
		ALOG(ALOG_WARN, "bad_message", ALOG_S("socket", "control"), ALOG_S("error", err),
		     ALOG_U("bytes", len));
		CP_DEBUG(cp, DEBUGLOG_ERRORS, "bad_message", "{s:s,s:s,s:s}", "error",
		         "a message on control.sock did not decode", "where", "control.sock",
		         "detail", err);
		reply_error(req, m.id, proto_decode_error_code(rc), err);
		return;
	}
	switch (m.type) {
	case PROTO_HELLO:
		cp_handle_hello(cp, req, &m, pipe);
		break;
	case PROTO_ASSIGN:
		handle_assign(cp, req, &m, pipe);
		break;
	case PROTO_SESSION_STARTED:
		handle_session_started(cp, req, &m, pipe);
		break;
	case PROTO_STREAM_ENDED:
		handle_stream_ended(cp, req, &m, pipe);
		break;
	case PROTO_HEARTBEAT:
		handle_heartbeat(cp, req, &m, pipe);
		break;
	case PROTO_DEBUG_EVENT:
		handle_debug_event(cp, req, &m, pipe);
		break;
	default:
		cp->bad_messages++;
		ALOG(ALOG_WARN, "bad_message", ALOG_S("socket", "control"),
		     ALOG_S("error", "message not expected here"),
		     ALOG_S("type", proto_type_name(m.type)));
		reply_error(req, m.id, "unexpected", "message type not expected on control.sock");
		break;
	}
	proto_msg_clear(&m);
}

/* A connection came or went. A dataplane stays known (and its leases
 * live) until ACEXY_DATAPLANE_LOST_AFTER; it says hello again on its next
 * connection. */
static void on_control_pipe(void *ud, uint32_t pipe, bool added)
{
	struct cp *cp = ud;
	if (added) {
		cp_peers_added(cp->peers, pipe, acexy_now());
		return;
	}
	cp_peers_removed(cp->peers, pipe);
	for (struct cp_dataplane *d = cp->dataplanes; d; d = d->next)
		if (d->pipe == pipe)
			d->pipe = 0;
}

/* ---- lost dataplanes ---- */

static void on_lost_tick(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct cp *cp = t->data;
	double limit = (double)acexy_cfg_u(cp->cfg, ACEXY_S_DATAPLANE_LOST_AFTER) / 1000.0;
	double now = acexy_now();
	/* Silence is measured from our own point of view: while this loop did
	 * not turn (SIGSTOP, a stalled host, swap) nobody could be heard, and
	 * what the dataplanes sent meanwhile is still queued. That time is
	 * granted back to every dataplane before anyone is judged. */
	double gap = now - cp->lost_tick_at;
	cp->lost_tick_at = now;
	if (gap > 2 * t->repeat) {
		double grace = gap - t->repeat;
		for (struct cp_dataplane *d = cp->dataplanes; d; d = d->next)
			d->last_seen = d->last_seen + grace < now ? d->last_seen + grace : now;
		if (gap > 1.0) {
			cp->stalls++;
			ALOG(ALOG_WARN, "controlplane_stalled", ALOG_D("stalled_s", gap),
			     ALOG_S("effect", "not counted as dataplane silence"));
		}
	}
	/* connections that never said a valid hello */
	cp_peers_expire(cp->peers, now, CP_PEERS_UNBOUND_S);
	struct cp_dataplane **pp = &cp->dataplanes;
	while (*pp) {
		struct cp_dataplane *d = *pp;
		if (now - d->last_seen < limit) {
			pp = &d->next;
			continue;
		}
		*pp = d->next;
		unsigned n = 0;
		struct cp_lease *l = cp->leases.head;
		while (l) {
			struct cp_lease *next = l->next;
			if (strcmp(l->instance, d->instance) == 0) {
				/* nobody else will stop the engine session: it would go
				 * on downloading; the end reaches the orchestrator too */
				if (cp->ce && cp_engine_known(cp, l->host, l->port) &&
				    engine_url_on(l->command_url, l->host, l->port))
					engine_stop_send(cp->ce, l->command_url);
				cp_lease_end(cp, l, "dataplane_lost");
				n++;
			}
			l = next;
		}
		cp->dataplanes_lost++;
		CP_DEBUG(cp, DEBUGLOG_DISCONNECTS, "dataplane_lost", "{s:s,s:i,s:f,s:s}",
		         "instance", d->instance, "streams", (int)n, "silent_s", now - d->last_seen,
		         "reason", "no heartbeat within ACEXY_DATAPLANE_LOST_AFTER");
		ALOG(ALOG_WARN, "dataplane_lost", ALOG_S("instance", d->instance),
		     ALOG_D("silent_s", now - d->last_seen), ALOG_U("streams_ended", n));
		free(d);
	}
}

int cp_start(struct cp *cp)
{
	char url[256];
	const char *run_dir = acexy_cfg_s(cp->cfg, ACEXY_S_RUN_DIR);
	cp->start_time = acexy_now();
	lease_table_init(&cp->leases);
	/* lease ids: see CP_LEASE_ID_EPOCH */
	time_t wall = time(NULL);
	cp->leases.last_id =
	        wall > CP_LEASE_ID_EPOCH ? (uint64_t)(wall - CP_LEASE_ID_EPOCH) << 20 : 0;
	if (cp_peers_new(&cp->peers) < 0)
		return -ENOMEM;
	/* the run dir holds admin.sock in every topology */
	int rc = ipc_url(run_dir, "admin.sock", url, sizeof(url));
	if (rc < 0)
		return rc;
	acexy_cfg_control_url(cp->cfg, url, sizeof(url));
	struct ipc_tls tls = {.cert = acexy_cfg_s(cp->cfg, ACEXY_S_CONTROL_TLS_CERT),
	                      .key = acexy_cfg_s(cp->cfg, ACEXY_S_CONTROL_TLS_KEY),
	                      .ca = acexy_cfg_s(cp->cfg, ACEXY_S_CONTROL_TLS_CA)};
	char lerr[300];
	/* ipc://: peers of our uid or root only, as on the admin sockets */
	rc = ipc_server_open_tls(cp->loop, url, 1024, true, &tls, on_control, on_control_pipe, cp,
	                         &cp->control, lerr, sizeof(lerr));
	if (rc < 0) {
		bool ipc = strncmp(url, "ipc://", 6) == 0;
		if (rc == -EADDRINUSE && ipc)
			return rc; /* another controlplane in this run dir */
		snprintf(cp->start_error, sizeof(cp->start_error),
		         "cannot listen for dataplanes (ACEXY_CONTROL_URL): %s", lerr);
		return rc == -EADDRINUSE ? -EIO : rc;
	}
	rc = ipc_url(run_dir, "admin.sock", url, sizeof(url));
	if (rc == 0)
		rc = ipc_server_open(cp->loop, url, 4, true, cp_on_admin, cp, &cp->admin);
	if (rc < 0) {
		ipc_server_close(cp->control);
		cp->control = NULL;
		return rc;
	}
	rc = curl_ev_new(cp->loop, &cp->ce);
	if (rc < 0)
		return rc;
	rc = debuglog_open(&cp->dl, cp->loop, acexy_cfg_s(cp->cfg, ACEXY_S_DEBUG_LOG_DIR),
	                   acexy_cfg_b(cp->cfg, ACEXY_S_DEBUG_MODE), 0, 0);
	if (rc < 0)
		ALOG(ALOG_ERROR, "debug_log_unusable",
		     ALOG_S("dir", acexy_cfg_s(cp->cfg, ACEXY_S_DEBUG_LOG_DIR)),
		     ALOG_S("error", strerror(-rc)));
	CP_DEBUG(cp, DEBUGLOG_SESSION, "controlplane_started",
	         "{s:s,s:s,s:s,s:{s:s,s:b,s:i,s:b,s:I,s:I,s:s,s:I}}", "mode",
	         acexy_cfg_s(cp->cfg, ACEXY_S_ORCH_URL)[0] ? "orchestrator" : "single", "version",
	         ACEXY_VERSION, "instance", cp->container_id, "settings", "orch_url",
	         acexy_cfg_s(cp->cfg, ACEXY_S_ORCH_URL), "orch_apikey_set",
	         acexy_cfg_s(cp->cfg, ACEXY_S_ORCH_APIKEY)[0] != '\0', "max_streams_per_engine",
	         (int)acexy_cfg_u(cp->cfg, ACEXY_S_MAX_STREAMS_PER_ENGINE), "fallback",
	         acexy_cfg_b(cp->cfg, ACEXY_S_FALLBACK), "assign_timeout_ms",
	         (json_int_t)acexy_cfg_u(cp->cfg, ACEXY_S_ASSIGN_TIMEOUT), "orch_poll_interval_ms",
	         (json_int_t)acexy_cfg_u(cp->cfg, ACEXY_S_ORCH_POLL_INTERVAL), "fallback_engine",
	         acexy_cfg_s(cp->cfg, ACEXY_S_HOST), "fallback_port",
	         (json_int_t)acexy_cfg_u(cp->cfg, ACEXY_S_PORT));
	rc = fallback_start(cp->loop, cp->ce, cp->cfg, &cp->fallback);
	if (rc < 0)
		return rc;
	if (acexy_cfg_s(cp->cfg, ACEXY_S_ORCH_URL)[0]) {
		struct orch_env env = {.loop = cp->loop,
		                       .cfg = cp->cfg,
		                       .ce = cp->ce,
		                       .dl = cp->dl,
		                       .fallback = cp->fallback,
		                       .leases = &cp->leases,
		                       .proxy_id = cp->container_id,
		                       .decided = orch_decided,
		                       .ud = cp};
		rc = orch_start(&env, &cp->orch);
		if (rc < 0)
			return rc;
		char err[256];
		rc = events_start(cp->loop, cp->cfg, cp->dl, cp->orch, &cp->events, err,
		                  sizeof(err));
		if (rc < 0) {
			snprintf(cp->start_error, sizeof(cp->start_error),
			         "cannot use the event spool (ACEXY_STATE_DIR): %s", err);
			return rc;
		}
	}
	ev_timer_init(&cp->lost_timer, on_lost_tick, 0.25, 0.25);
	cp->lost_timer.data = cp;
	cp->lost_tick_at = acexy_now();
	ev_timer_start(cp->loop, &cp->lost_timer);
	cp->ready = true;
	return 0;
}

void cp_stop(struct cp *cp)
{
	ev_timer_stop(cp->loop, &cp->lost_timer);
	events_stop(cp->events);
	cp->events = NULL;
	orch_stop(cp->orch);
	cp->orch = NULL;
	fallback_stop(cp->fallback);
	cp->fallback = NULL;
	if (cp->ce)
		curl_ev_free(cp->ce);
	cp->ce = NULL;
	CP_DEBUG(cp, DEBUGLOG_SESSION, "controlplane_stopped", "{s:s,s:s,s:f}", "version",
	         ACEXY_VERSION, "instance", cp->container_id, "uptime_s",
	         acexy_now() - cp->start_time);
	debuglog_close(cp->dl);
	cp->dl = NULL;
	ipc_server_close(cp->admin);
	ipc_server_close(cp->control);
	cp->admin = cp->control = NULL;
	lease_table_clear(&cp->leases);
	cp_peers_free(cp->peers);
	cp->peers = NULL;
	while (cp->dataplanes) {
		struct cp_dataplane *n = cp->dataplanes->next;
		free(cp->dataplanes);
		cp->dataplanes = n;
	}
}
