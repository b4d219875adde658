/* Controlplane logic: dataplanes, leases and the messages that change them.
 * Single-engine mode assigns the fallback engine (ACEXY_HOST/PORT/SCHEME);
 * the orchestrator mode slots in at assign_engine(). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "acexy/log.h"
#include "acexy/proto.h"
#include "controlplane/cp.h"
#include "controlplane/engstat.h"
#include "controlplane/events.h"
#include "controlplane/fallback.h"
#include "controlplane/orch.h"
#include "dataplane/curl_ev.h"

double cp_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void reply_msg(struct ipc_req *req, enum proto_type t, uint64_t id, json_t *body)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	if (proto_encode(t, id, body, &buf, &len) < 0) {
		json_t *e = proto_error_body("internal", "reply too large");
		proto_encode(PROTO_ERROR, id, e, &buf, &len);
		json_decref(e);
	}
	ipc_reply(req, buf, len);
	free(buf);
	json_decref(body);
}

static void reply_error(struct ipc_req *req, uint64_t id, const char *code, const char *msg)
{
	reply_msg(req, PROTO_ERROR, id, proto_error_body(code, msg));
}

static const char *jstr(json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));
	return s ? s : "";
}

static uint64_t juint(json_t *o, const char *k)
{
	json_int_t v = json_integer_value(json_object_get(o, k));
	return v > 0 ? (uint64_t)v : 0;
}

static struct cp_dataplane *dp_find(struct cp *cp, const char *instance)
{
	for (struct cp_dataplane *d = cp->dataplanes; d; d = d->next)
		if (strcmp(d->instance, instance) == 0)
			return d;
	return NULL;
}

static struct cp_dataplane *dp_touch(struct cp *cp, const char *instance)
{
	struct cp_dataplane *d = dp_find(cp, instance);
	if (!d) {
		d = calloc(1, sizeof(*d));
		if (!d)
			return NULL;
		snprintf(d->instance, sizeof(d->instance), "%s", instance);
		d->first_seen = cp_now();
		d->next = cp->dataplanes;
		cp->dataplanes = d;
	}
	d->last_seen = cp_now();
	return d;
}

static struct cp_lease *lease_find(struct cp *cp, uint64_t id)
{
	for (struct cp_lease *l = cp->leases; l; l = l->next)
		if (l->id == id)
			return l;
	return NULL;
}

static void lease_remove(struct cp *cp, struct cp_lease *lease, const char *reason)
{
	for (struct cp_lease **pp = &cp->leases; *pp; pp = &(*pp)->next) {
		if (*pp == lease) {
			*pp = lease->next;
			break;
		}
	}
	events_stream_ended(cp->events, lease, reason);
	CP_DEBUG(cp, DEBUGLOG_STREAMS, "ended", "{s:I,s:s,s:s,s:s,s:s,s:I,s:f,s:s}", "lease",
	         (json_int_t)lease->id, "stream_id", lease->stream_id, "key", lease->key,
	         "container_id", lease->container_id, "engine", lease->host, "bytes",
	         (json_int_t)lease->bytes, "duration_ms", (cp_now() - lease->created) * 1000.0,
	         "reason", reason ? reason : "");
	ALOG(ALOG_INFO, "lease_released", ALOG_U("lease", lease->id),
	     ALOG_S("instance", lease->instance), ALOG_S("content", lease->key),
	     ALOG_S("reason", reason), ALOG_U("bytes", lease->bytes));
	free(lease);
}

bool cp_queue_command(struct cp_dataplane *d, const char *cmd, uint64_t lease);
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

/* ---- engine choice ---- */

static struct cp_lease *assign_engine(struct cp *cp, const char *instance, json_t *body,
                                      uint64_t req_id, char *why, size_t whycap)
{
	struct cp_lease *l = calloc(1, sizeof(*l));
	if (!l) {
		snprintf(why, whycap, "out of memory");
		return NULL;
	}
	l->id = ++cp->next_lease;
	snprintf(l->instance, sizeof(l->instance), "%s", instance);
	snprintf(l->key_type, sizeof(l->key_type), "%s", jstr(body, "key_type"));
	snprintf(l->key, sizeof(l->key), "%s", jstr(body, "key"));
	snprintf(l->scheme, sizeof(l->scheme), "%s", acexy_cfg_s(cp->cfg, ACEXY_S_SCHEME));
	snprintf(l->host, sizeof(l->host), "%s", acexy_cfg_s(cp->cfg, ACEXY_S_HOST));
	l->port = (unsigned)acexy_cfg_u(cp->cfg, ACEXY_S_PORT);
	l->fallback = true;
	l->state = LEASE_ASSIGNED;
	l->created = cp_now();
	l->assign_req = req_id;
	l->next = cp->leases;
	cp->leases = l;
	return l;
}

static json_t *lease_json(const struct cp_lease *l)
{
	return json_pack("{s:I,s:s,s:s,s:i,s:s,s:b}", "lease", (json_int_t)l->id, "scheme",
	                 l->scheme, "host", l->host, "port", (int)l->port, "container_id",
	                 l->container_id, "fallback", l->fallback);
}

/* ---- control.sock ---- */

static void rebuild_leases(struct cp *cp, const char *instance, json_t *streams)
{
	size_t i;
	json_t *s;
	json_array_foreach(streams, i, s)
	{
		uint64_t id = juint(s, "lease");
		if (!id || lease_find(cp, id))
			continue;
		struct cp_lease *l = calloc(1, sizeof(*l));
		if (!l)
			return;
		l->id = id;
		if (id > cp->next_lease)
			cp->next_lease = id; /* never hand out a live id again */
		snprintf(l->instance, sizeof(l->instance), "%s", instance);
		snprintf(l->key_type, sizeof(l->key_type), "%s", jstr(s, "key_type"));
		snprintf(l->key, sizeof(l->key), "%s", jstr(s, "key"));
		snprintf(l->stat_url, sizeof(l->stat_url), "%s", jstr(s, "stat_url"));
		l->is_live = json_is_true(json_object_get(s, "is_live"));
		snprintf(l->host, sizeof(l->host), "%s", jstr(s, "host"));
		snprintf(l->scheme, sizeof(l->scheme), "%s", jstr(s, "scheme"));
		l->port = (unsigned)juint(s, "port");
		snprintf(l->container_id, sizeof(l->container_id), "%s", jstr(s, "container_id"));
		snprintf(l->playback_session_id, sizeof(l->playback_session_id), "%s",
		         jstr(s, "playback_session_id"));
		snprintf(l->command_url, sizeof(l->command_url), "%s", jstr(s, "command_url"));
		l->fallback = json_is_true(json_object_get(s, "fallback"));
		l->bytes = juint(s, "bytes");
		l->viewers = (unsigned)juint(s, "viewers");
		l->state = LEASE_STARTED;
		l->created = cp_now();
		/* the same stream id as before the restart: its events (in the
		 * spool) and its end match what the orchestrator knows */
		if (cp->events && !l->fallback && l->container_id[0])
			events_stream_id(l->container_id, l->playback_session_id, l->stream_id,
			                 sizeof(l->stream_id));
		l->next = cp->leases;
		cp->leases = l;
		ALOG(ALOG_INFO, "lease_rebuilt", ALOG_U("lease", id), ALOG_S("instance", instance),
		     ALOG_S("content", l->key));
	}
}

static void handle_hello(struct cp *cp, struct ipc_req *req, const struct proto_msg *m)
{
	const char *instance = jstr(m->body, "instance");
	struct cp_dataplane *d = dp_find(cp, instance);
	bool known = d != NULL;
	d = dp_touch(cp, instance);
	if (!d) {
		reply_error(req, m->id, "internal", "out of memory");
		return;
	}
	snprintf(d->software, sizeof(d->software), "%s", jstr(m->body, "software"));
	d->draining = json_is_true(json_object_get(m->body, "draining"));
	rebuild_leases(cp, instance, json_object_get(m->body, "streams"));
	size_t i;
	json_t *e;
	json_array_foreach(json_object_get(m->body, "ended"), i, e)
	{
		struct cp_lease *l = lease_find(cp, juint(e, "lease"));
		if (l && strcmp(l->instance, instance) == 0)
			lease_remove(cp, l, jstr(e, "reason"));
		else if (!l && !json_is_true(json_object_get(e, "fallback")))
			events_stream_ended_unleased(cp->events, jstr(e, "container_id"),
			                             jstr(e, "playback_session_id"),
			                             jstr(e, "reason"));
	}
	if (!known)
		ALOG(ALOG_INFO, "dataplane_connected", ALOG_S("instance", instance),
		     ALOG_S("software", d->software),
		     ALOG_U("streams", json_array_size(json_object_get(m->body, "streams"))));
	reply_msg(req, PROTO_HELLO_REPLY, m->id,
	          json_pack("{s:s,s:s}", "controlplane", cp->container_id, "software",
	                    ACEXY_VERSION));
}

static void handle_assign(struct cp *cp, struct ipc_req *req, const struct proto_msg *m)
{
	const char *instance = jstr(m->body, "instance");
	if (!dp_find(cp, instance)) {
		reply_error(req, m->id, "hello_required", "unknown dataplane: send hello first");
		return;
	}
	dp_touch(cp, instance);
	/* nng resends a request whose answer was lost: answer it again */
	for (struct cp_lease *l = cp->leases; l; l = l->next) {
		if (l->assign_req == m->id && strcmp(l->instance, instance) == 0) {
			reply_msg(req, PROTO_LEASE, m->id, lease_json(l));
			return;
		}
	}
	if (cp->orch) {
		orch_assign(cp->orch, req, m->id, instance, m->body);
		return;
	}
	char why[200];
	struct cp_lease *l = assign_engine(cp, instance, m->body, m->id, why, sizeof(why));
	if (!l) {
		cp->refusals++;
		CP_DEBUG(cp, DEBUGLOG_REQUESTS, "assign", "{s:s,s:s,s:s,s:s,s:s,s:i,s:f}",
		         "instance", instance, "key_type", jstr(m->body, "key_type"), "key",
		         jstr(m->body, "key"), "outcome", "refusal", "reason", why, "retry_after",
		         5, "wait_ms", 0.0);
		reply_msg(req, PROTO_REFUSAL, m->id,
		          json_pack("{s:s,s:i}", "reason", why, "retry_after", 5));
		return;
	}
	cp->assignments++;
	CP_DEBUG(cp, DEBUGLOG_REQUESTS, "assign", "{s:s,s:s,s:s,s:s,s:I,s:f}", "instance", instance,
	         "key_type", l->key_type, "key", l->key, "outcome", "lease", "lease",
	         (json_int_t)l->id, "wait_ms", 0.0);
	CP_DEBUG(cp, DEBUGLOG_ENGINE_SELECTION, "fallback", "{s:I,s:s,s:[],s:s,s:s,s:f}", "lease",
	         (json_int_t)l->id, "key", l->key, "candidates", "winner", "", "why",
	         "single-engine mode: the one engine ACEXY_HOST:ACEXY_PORT", "took_ms", 0.0);
	ALOG(ALOG_INFO, "lease_granted", ALOG_U("lease", l->id), ALOG_S("instance", instance),
	     ALOG_S("content", l->key), ALOG_S("engine", l->host), ALOG_U("port", l->port),
	     ALOG_B("fallback", l->fallback));
	reply_msg(req, PROTO_LEASE, m->id, lease_json(l));
}

static void handle_session_started(struct cp *cp, struct ipc_req *req, const struct proto_msg *m)
{
	struct cp_lease *l = lease_find(cp, juint(m->body, "lease"));
	if (l) {
		l->state = LEASE_STARTED;
		snprintf(l->playback_session_id, sizeof(l->playback_session_id), "%s",
		         jstr(m->body, "playback_session_id"));
		snprintf(l->stat_url, sizeof(l->stat_url), "%s", jstr(m->body, "stat_url"));
		snprintf(l->command_url, sizeof(l->command_url), "%s",
		         jstr(m->body, "command_url"));
		l->is_live = json_is_true(json_object_get(m->body, "is_live"));
		if (!l->stream_id[0])
			events_stream_started(cp->events, l);
		CP_DEBUG(cp, DEBUGLOG_STREAMS, "started", "{s:I,s:s,s:s,s:s,s:s}", "lease",
		         (json_int_t)l->id, "stream_id", l->stream_id, "key", l->key,
		         "container_id", l->container_id, "engine", l->host);
	}
	reply_msg(req, PROTO_OK, m->id, json_object());
}

static void handle_stream_ended(struct cp *cp, struct ipc_req *req, const struct proto_msg *m)
{
	struct cp_lease *l = lease_find(cp, juint(m->body, "lease"));
	if (l) {
		l->bytes = juint(m->body, "bytes");
		lease_remove(cp, l, jstr(m->body, "reason"));
	} else if (!json_is_true(json_object_get(m->body, "fallback"))) {
		events_stream_ended_unleased(cp->events, jstr(m->body, "container_id"),
		                             jstr(m->body, "playback_session_id"),
		                             jstr(m->body, "reason"));
	}
	reply_msg(req, PROTO_OK, m->id, json_object());
}

static void handle_heartbeat(struct cp *cp, struct ipc_req *req, const struct proto_msg *m)
{
	const char *instance = jstr(m->body, "instance");
	struct cp_dataplane *d = dp_find(cp, instance);
	if (!d) {
		reply_error(req, m->id, "hello_required", "unknown dataplane: send hello first");
		return;
	}
	dp_touch(cp, instance);
	d->draining = json_is_true(json_object_get(m->body, "draining"));
	size_t i;
	json_t *s;
	json_array_foreach(json_object_get(m->body, "streams"), i, s)
	{
		struct cp_lease *l = lease_find(cp, juint(s, "lease"));
		if (l) {
			l->bytes = juint(s, "bytes");
			l->viewers = (unsigned)juint(s, "viewers");
			double t = cp_now();
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
	json_t *cmds = json_array();
	for (unsigned k = 0; k < d->ncmds; k++)
		json_array_append_new(cmds, json_pack("{s:s,s:I}", "cmd", d->cmds[k].cmd, "lease",
		                                      (json_int_t)d->cmds[k].lease));
	d->ncmds = 0;
	reply_msg(req, PROTO_HEARTBEAT_REPLY, m->id, json_pack("{s:o}", "commands", cmds));
}

/* A dataplane's record for the debug logs (viewers gone, slow first bytes). */
static void handle_debug_event(struct cp *cp, struct ipc_req *req, const struct proto_msg *m)
{
	const char *cat = jstr(m->body, "category");
	json_t *rec = json_object_get(m->body, "record");
	static const enum debuglog_cat allowed[] = {DEBUGLOG_DISCONNECTS, DEBUGLOG_STRESS,
	                                            DEBUGLOG_STREAMS, DEBUGLOG_ERRORS};
	for (size_t i = 0; i < sizeof(allowed) / sizeof(allowed[0]); i++) {
		if (strcmp(cat, debuglog_cat_name(allowed[i])) != 0)
			continue;
		if (debuglog_enabled(cp->dl)) {
			json_t *f = json_deep_copy(rec);
			const char *ev = jstr(f, "event");
			char event[64];
			snprintf(event, sizeof(event), "%s", ev[0] ? ev : "dataplane_event");
			json_object_del(f, "event");
			debuglog_write(cp->dl, allowed[i], event, f);
		}
		reply_msg(req, PROTO_OK, m->id, json_object());
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
	int rc = proto_decode(buf, len, &m, err, sizeof(err));
	if (rc < 0) {
		cp->bad_messages++;
		ALOG(ALOG_WARN, "bad_message", ALOG_S("socket", "control"), ALOG_S("error", err),
		     ALOG_U("bytes", len));
		CP_DEBUG(cp, DEBUGLOG_ERRORS, "bad_message", "{s:s,s:s,s:s}", "error",
		         "a message on control.sock did not decode", "where", "control.sock",
		         "detail", err);
		reply_error(req, m.id,
		            rc == -EPROTONOSUPPORT ? "version"
		            : rc == -ENOMSG        ? "unknown_type"
		                                   : "malformed",
		            err);
		return;
	}
	switch (m.type) {
	case PROTO_HELLO:
		handle_hello(cp, req, &m);
		break;
	case PROTO_ASSIGN:
		handle_assign(cp, req, &m);
		break;
	case PROTO_SESSION_STARTED:
		handle_session_started(cp, req, &m);
		break;
	case PROTO_STREAM_ENDED:
		handle_stream_ended(cp, req, &m);
		break;
	case PROTO_HEARTBEAT:
		handle_heartbeat(cp, req, &m);
		break;
	case PROTO_DEBUG_EVENT:
		handle_debug_event(cp, req, &m);
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
	if (added)
		return;
	for (struct cp_dataplane *d = cp->dataplanes; d; d = d->next)
		if (d->pipe == pipe)
			d->pipe = 0;
}

/* ---- lost dataplanes ---- */

static void on_lost_tick(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct cp *cp = t->data;
	double limit = (double)acexy_cfg_u(cp->cfg, ACEXY_S_DATAPLANE_LOST_AFTER) / 1000.0;
	double now = cp_now();
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
	struct cp_dataplane **pp = &cp->dataplanes;
	while (*pp) {
		struct cp_dataplane *d = *pp;
		if (now - d->last_seen < limit) {
			pp = &d->next;
			continue;
		}
		*pp = d->next;
		unsigned n = 0;
		struct cp_lease *l = cp->leases;
		while (l) {
			struct cp_lease *next = l->next;
			if (strcmp(l->instance, d->instance) == 0) {
				/* nobody else will stop the engine session: it would go
				 * on downloading; the end reaches the orchestrator too */
				if (cp->ce)
					curl_ev_engine_stop(cp->ce, l->command_url);
				lease_remove(cp, l, "dataplane_lost");
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

/* ---- admin.sock ---- */

json_t *cp_admin_result(struct cp *cp, const char *command, const char *arg, const char *instance,
                        char *err, size_t errcap);
json_t *cp_admin_result(struct cp *cp, const char *command, const char *arg, const char *instance,
                        char *err, size_t errcap)
{
	double now = cp_now();
	if (strcmp(command, "ping") == 0)
		return json_pack("{s:b,s:s,s:s}", "pong", 1, "program", "acexy-controlplane",
		                 "version", ACEXY_VERSION);
	if (strcmp(command, "status") == 0 || strcmp(command, "engines") == 0 ||
	    strcmp(command, "streams") == 0) {
		json_t *dps = json_array();
		for (struct cp_dataplane *d = cp->dataplanes; d; d = d->next) {
			unsigned n = 0;
			for (struct cp_lease *l = cp->leases; l; l = l->next)
				n += strcmp(l->instance, d->instance) == 0;
			json_array_append_new(dps, json_pack("{s:s,s:s,s:f,s:f,s:b,s:i}",
			                                     "instance", d->instance, "software",
			                                     d->software, "last_seen_s",
			                                     now - d->last_seen, "connected_s",
			                                     now - d->first_seen, "draining",
			                                     d->draining, "streams", (int)n));
		}
		json_t *streams = json_array();
		unsigned nleases = 0;
		for (struct cp_lease *l = cp->leases; l; l = l->next) {
			nleases++;
			json_t *row = json_pack(
			        "{s:I,s:s,s:s,s:s,s:s,s:i,s:s,s:b,s:s,s:I,s:i,s:f,s:f,s:s}", "id",
			        (json_int_t)l->id, "instance", l->instance, "key_type", l->key_type,
			        "content", l->key, "engine_host", l->host, "engine_port",
			        (int)l->port, "container_id", l->container_id, "fallback",
			        l->fallback, "state",
			        l->state == LEASE_STARTED ? "started" : "assigned", "bytes",
			        (json_int_t)l->bytes, "viewers", (int)l->viewers, "age_s",
			        now - l->created, "rate_mbps", l->rate_bps / 1e6, "stream_id",
			        l->stream_id);
			/* the engine's view, when read (null before) */
			json_object_set_new(row, "engine_status",
			                    l->stat_at > 0 ? json_string(l->stat_status)
			                                   : json_null());
			json_object_set_new(row, "peers",
			                    l->stat_at > 0 ? json_integer(l->stat_peers)
			                                   : json_null());
			json_object_set_new(row, "speed_down_kbps",
			                    l->stat_at > 0 ? json_integer(l->stat_down_kbps)
			                                   : json_null());
			json_object_set_new(row, "speed_up_kbps",
			                    l->stat_at > 0 ? json_integer(l->stat_up_kbps)
			                                   : json_null());
			json_array_append_new(streams, row);
		}
		json_t *engines = cp->orch ? orch_engines_json(cp->orch) : json_array();
		unsigned nfallback = 0;
		for (struct cp_lease *l = cp->leases; l; l = l->next)
			nfallback += l->fallback;
		json_array_append_new(
		        engines,
		        json_pack("{s:s,s:s,s:i,s:s,s:b,s:i,s:i,s:b,s:s,s:s,s:f}", "container_id",
		                  "", "host", acexy_cfg_s(cp->cfg, ACEXY_S_HOST), "port",
		                  (int)acexy_cfg_u(cp->cfg, ACEXY_S_PORT), "scheme",
		                  acexy_cfg_s(cp->cfg, ACEXY_S_SCHEME), "fallback", 1, "leases",
		                  (int)nfallback, "load", (int)nfallback, "forwarded", 0, "health",
		                  fallback_health_name(fallback_health(cp->fallback)),
		                  "health_error", fallback_error(cp->fallback), "checked_ago_s",
		                  fallback_checked_at(cp->fallback) > 0
		                          ? now - fallback_checked_at(cp->fallback)
		                          : -1.0));
		if (strcmp(command, "engines") == 0) {
			json_decref(dps);
			json_decref(streams);
			return json_pack("{s:o}", "engines", engines);
		}
		if (strcmp(command, "streams") == 0) {
			json_decref(dps);
			json_decref(engines);
			return json_pack("{s:o}", "streams", streams);
		}
		json_decref(streams);
		json_t *orch = cp->orch ? orch_status_json(cp->orch) : json_null();
		json_t *events = cp->events ? events_status_json(cp->events) : json_null();
		return json_pack("{s:s,s:s,s:s,s:f,s:i,s:I,s:I,s:I,s:o,s:o,s:o,s:o}", "program",
		                 "acexy-controlplane", "version", ACEXY_VERSION, "mode",
		                 acexy_cfg_s(cp->cfg, ACEXY_S_ORCH_URL)[0] ? "orchestrator"
		                                                           : "single-engine",
		                 "uptime_s", now - cp->start_time, "leases", (int)nleases,
		                 "assignments", (json_int_t)cp->assignments, "dataplanes_lost",
		                 (json_int_t)cp->dataplanes_lost, "bad_messages",
		                 (json_int_t)cp->bad_messages, "dataplanes", dps, "engines",
		                 engines, "orchestrator", orch, "events", events);
	}
	if (strcmp(command, "stream") == 0 || strcmp(command, "stop") == 0) {
		struct cp_lease *l = lease_find(cp, strtoull(arg, NULL, 10));
		if (!l) {
			snprintf(err, errcap, "no stream with id '%s'", arg);
			return NULL;
		}
		if (strcmp(command, "stop") == 0) {
			struct cp_dataplane *d = dp_find(cp, l->instance);
			if (!d || !cp_queue_command(d, "stop", l->id)) {
				snprintf(err, errcap, "dataplane of stream %s is not connected",
				         arg);
				return NULL;
			}
			return json_pack("{s:I,s:s}", "stopping", (json_int_t)l->id, "instance",
			                 l->instance);
		}
		return json_pack("{s:I,s:s,s:s,s:s,s:s,s:i,s:s,s:s,s:I,s:f}", "id",
		                 (json_int_t)l->id, "instance", l->instance, "content", l->key,
		                 "key_type", l->key_type, "engine_host", l->host, "engine_port",
		                 (int)l->port, "playback_session_id", l->playback_session_id,
		                 "stat_url", l->stat_url, "bytes", (json_int_t)l->bytes, "age_s",
		                 now - l->created);
	}
	if (strcmp(command, "drain") == 0 || strcmp(command, "resume") == 0) {
		json_t *done = json_array();
		for (struct cp_dataplane *d = cp->dataplanes; d; d = d->next) {
			if (instance && *instance && strcmp(instance, d->instance) != 0)
				continue;
			if (cp_queue_command(d, command, 0))
				json_array_append_new(done, json_string(d->instance));
		}
		if (instance && *instance && json_array_size(done) == 0) {
			json_decref(done);
			snprintf(err, errcap, "no connected dataplane named '%s'", instance);
			return NULL;
		}
		return json_pack("{s:s,s:o}", "command", command, "dataplanes", done);
	}
	if (strcmp(command, "config") == 0) {
		json_t *arr = json_array();
		for (int i = 0; i < ACEXY_S_COUNT_; i++) {
			const struct acexy_setting_desc *d = acexy_setting(i);
			char v[512];
			acexy_value_format(d->type, &cp->cfg->v[i], v, sizeof(v));
			json_array_append_new(
			        arr,
			        json_pack("{s:s,s:s,s:s,s:s}", "env", d->env, "value", v, "origin",
			                  acexy_origin_name(cp->cfg->v[i].origin), "where",
			                  cp->cfg->v[i].origin_where ? cp->cfg->v[i].origin_where
			                                             : ""));
		}
		return json_pack("{s:s,s:o}", "program", "acexy-controlplane", "settings", arr);
	}
	snprintf(err, errcap, "unknown command '%s'", command);
	return NULL;
}

static void on_admin(void *ud, struct ipc_req *req, const uint8_t *buf, size_t len)
{
	struct cp *cp = ud;
	struct proto_msg m;
	char err[256];
	int rc = proto_decode(buf, len, &m, err, sizeof(err));
	if (rc < 0 || m.type != PROTO_ADMIN) {
		ALOG(ALOG_WARN, "bad_message", ALOG_S("socket", "admin"),
		     ALOG_S("error", rc < 0 ? err : "not an admin request"));
		reply_error(req, m.id, "malformed", rc < 0 ? err : "not an admin request");
		proto_msg_clear(&m);
		return;
	}
	err[0] = '\0';
	json_t *res = cp_admin_result(cp, jstr(m.body, "command"), jstr(m.body, "arg"),
	                              jstr(m.body, "instance"), err, sizeof(err));
	if (res)
		reply_msg(req, PROTO_ADMIN_REPLY, m.id, json_pack("{s:o}", "result", res));
	else
		reply_error(req, m.id, "failed", err);
	proto_msg_clear(&m);
}

int cp_start(struct cp *cp)
{
	char url[256];
	const char *run_dir = acexy_cfg_s(cp->cfg, ACEXY_S_RUN_DIR);
	cp->start_time = cp_now();
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
	rc = ipc_server_open_tls(cp->loop, url, 64, true, &tls, on_control, on_control_pipe, cp,
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
		rc = ipc_server_open(cp->loop, url, 4, true, on_admin, cp, &cp->admin);
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
	rc = fallback_start(cp, &cp->fallback);
	if (rc < 0)
		return rc;
	rc = engstat_start(cp, &cp->engstat);
	if (rc < 0)
		return rc;
	if (acexy_cfg_s(cp->cfg, ACEXY_S_ORCH_URL)[0]) {
		rc = orch_start(cp, &cp->orch);
		if (rc < 0)
			return rc;
		char err[256];
		rc = events_start(cp, &cp->events, err, sizeof(err));
		if (rc < 0) {
			snprintf(cp->start_error, sizeof(cp->start_error),
			         "cannot use the event spool (ACEXY_STATE_DIR): %s", err);
			return rc;
		}
	}
	ev_timer_init(&cp->lost_timer, on_lost_tick, 0.25, 0.25);
	cp->lost_timer.data = cp;
	cp->lost_tick_at = cp_now();
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
	engstat_stop(cp->engstat);
	cp->engstat = NULL;
	if (cp->ce)
		curl_ev_free(cp->ce);
	cp->ce = NULL;
	CP_DEBUG(cp, DEBUGLOG_SESSION, "controlplane_stopped", "{s:s,s:s,s:f}", "version",
	         ACEXY_VERSION, "instance", cp->container_id, "uptime_s",
	         cp_now() - cp->start_time);
	debuglog_close(cp->dl);
	cp->dl = NULL;
	ipc_server_close(cp->admin);
	ipc_server_close(cp->control);
	cp->admin = cp->control = NULL;
	while (cp->leases) {
		struct cp_lease *n = cp->leases->next;
		free(cp->leases);
		cp->leases = n;
	}
	while (cp->dataplanes) {
		struct cp_dataplane *n = cp->dataplanes->next;
		free(cp->dataplanes);
		cp->dataplanes = n;
	}
}
