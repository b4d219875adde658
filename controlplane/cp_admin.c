/* admin.sock: acexyctl's requests to the controlplane. The commands are the
 * PROTO_ADMIN_COMMANDS table (include/acexy/proto.h); each one this daemon
 * answers has a handler below, indexed by the table's enum. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acexy/log.h"
#include "acexy/proto.h"
#include "controlplane/cp.h"
#include "controlplane/events.h"
#include "controlplane/fallback.h"
#include "controlplane/orch.h"

typedef json_t *(*admin_fn)(void *ctx, const struct proto_admin *a, char *err, size_t errcap);

static json_t *admin_ping(void *ctx, const struct proto_admin *a, char *err, size_t errcap)
{
	return json_pack("{s:b,s:s,s:s}", "pong", 1, "program", "acexy-controlplane", "version",
	                 ACEXY_VERSION);
}

static json_t *dataplanes_json(struct cp *cp, double now)
{
	json_t *dps = json_array();
	for (struct cp_dataplane *d = cp->dataplanes; d; d = d->next) {
		unsigned n = 0, viewers = 0;
		for (struct cp_lease *l = cp->leases.head; l; l = l->next)
			if (strcmp(l->instance, d->instance) == 0) {
				n++;
				viewers += l->viewers;
			}
		json_array_append_new(
		        dps, json_pack("{s:s,s:s,s:s,s:s,s:b,s:f,s:f,s:f,s:b,s:i,s:i}", "instance",
		                       d->instance, "address", d->pipe ? d->addr : "", "software",
		                       d->software, "version", d->software, "connected",
		                       d->pipe != 0, "last_seen_s", now - d->last_seen,
		                       "last_heartbeat_s", now - d->last_seen, "connected_s",
		                       now - d->first_seen, "draining", d->draining, "streams",
		                       (int)n, "viewers", (int)viewers));
	}
	return dps;
}

static json_t *admin_dataplanes(void *ctx, const struct proto_admin *a, char *err, size_t errcap)
{
	struct cp *cp = ctx;
	return json_pack("{s:o}", "dataplanes", dataplanes_json(cp, acexy_now()));
}

static json_t *streams_json(struct cp *cp, double now)
{
	json_t *streams = json_array();
	for (struct cp_lease *l = cp->leases.head; l; l = l->next)
		json_array_append_new(streams, lease_json(l, now));
	return streams;
}

static json_t *engines_json(struct cp *cp, double now)
{
	json_t *engines = cp->orch ? orch_engines_json(cp->orch) : json_array();
	unsigned nfallback = 0;
	for (struct cp_lease *l = cp->leases.head; l; l = l->next)
		nfallback += l->fallback;
	double checked = fallback_checked_at(cp->fallback);
	json_array_append_new(
	        engines, json_pack("{s:s,s:s,s:i,s:s,s:b,s:i,s:i,s:b,s:s,s:s,s:f}", "container_id",
	                           "", "host", acexy_cfg_s(cp->cfg, ACEXY_S_HOST), "port",
	                           (int)acexy_cfg_u(cp->cfg, ACEXY_S_PORT), "scheme",
	                           acexy_cfg_s(cp->cfg, ACEXY_S_SCHEME), "fallback", 1, "leases",
	                           (int)nfallback, "load", (int)nfallback, "forwarded", 0, "health",
	                           fallback_health_name(fallback_health(cp->fallback)),
	                           "health_error", fallback_error(cp->fallback), "checked_ago_s",
	                           checked > 0 ? now - checked : -1.0));
	return engines;
}

static json_t *admin_status(void *ctx, const struct proto_admin *a, char *err, size_t errcap)
{
	struct cp *cp = ctx;
	double now = acexy_now();
	unsigned nleases = (unsigned)cp->leases.count;
	json_t *orch = cp->orch ? orch_status_json(cp->orch) : json_null();
	json_t *events = cp->events ? events_status_json(cp->events) : json_null();
	return json_pack("{s:s,s:s,s:s,s:f,s:i,s:I,s:I,s:I,s:o,s:o,s:o,s:o}", "program",
	                 "acexy-controlplane", "version", ACEXY_VERSION, "mode",
	                 acexy_cfg_s(cp->cfg, ACEXY_S_ORCH_URL)[0] ? "orchestrator"
	                                                           : "single-engine",
	                 "uptime_s", now - cp->start_time, "leases", (int)nleases, "assignments",
	                 (json_int_t)cp->assignments, "dataplanes_lost",
	                 (json_int_t)cp->dataplanes_lost, "bad_messages",
	                 (json_int_t)cp->bad_messages, "dataplanes", dataplanes_json(cp, now),
	                 "engines", engines_json(cp, now), "orchestrator", orch, "events", events);
}

static json_t *admin_engines(void *ctx, const struct proto_admin *a, char *err, size_t errcap)
{
	struct cp *cp = ctx;
	return json_pack("{s:o}", "engines", engines_json(cp, acexy_now()));
}

static json_t *admin_streams(void *ctx, const struct proto_admin *a, char *err, size_t errcap)
{
	struct cp *cp = ctx;
	return json_pack("{s:o}", "streams", streams_json(cp, acexy_now()));
}

static struct cp_lease *lease_arg(struct cp *cp, const struct proto_admin *a, char *err,
                                  size_t errcap)
{
	struct cp_lease *l = lease_find(&cp->leases, strtoull(a->arg, NULL, 10));
	if (!l)
		snprintf(err, errcap, "no stream with id '%s'", a->arg);
	return l;
}

static json_t *admin_stream(void *ctx, const struct proto_admin *a, char *err, size_t errcap)
{
	struct cp *cp = ctx;
	struct cp_lease *l = lease_arg(cp, a, err, errcap);
	if (!l)
		return NULL;
	/* the streams row (with the engine's view) and the session's own ids */
	json_t *row = lease_json(l, acexy_now());
	if (row)
		json_object_update_new(row,
		                       json_pack("{s:s,s:s}", "playback_session_id",
		                                 l->playback_session_id, "stat_url", l->stat_url));
	return row;
}

static json_t *admin_stop(void *ctx, const struct proto_admin *a, char *err, size_t errcap)
{
	struct cp *cp = ctx;
	struct cp_lease *l = lease_arg(cp, a, err, errcap);
	if (!l)
		return NULL;
	struct cp_dataplane *d = cp_dataplane_find(cp, l->instance);
	if (!d || !cp_queue_command(d, "stop", l->id)) {
		snprintf(err, errcap, "dataplane of stream %s is not connected", a->arg);
		return NULL;
	}
	return json_pack("{s:I,s:s}", "stopping", (json_int_t)l->id, "instance", l->instance);
}

/* drain and resume: every dataplane, or the one named by --instance */
static json_t *admin_drain_resume(void *ctx, const struct proto_admin *a, char *err, size_t errcap)
{
	struct cp *cp = ctx;
	const char *instance = a->instance;
	json_t *done = json_array();
	for (struct cp_dataplane *d = cp->dataplanes; d; d = d->next) {
		if (*instance && strcmp(instance, d->instance) != 0)
			continue;
		if (cp_queue_command(d, a->command, 0))
			json_array_append_new(done, json_string(d->instance));
	}
	if (*instance && json_array_size(done) == 0) {
		json_decref(done);
		snprintf(err, errcap, "no connected dataplane named '%s'", instance);
		return NULL;
	}
	return json_pack("{s:s,s:o}", "command", a->command, "dataplanes", done);
}

static json_t *admin_config(void *ctx, const struct proto_admin *a, char *err, size_t errcap)
{
	struct cp *cp = ctx;
	return json_pack("{s:s,s:o}", "program", "acexy-controlplane", "settings",
	                 acexy_config_json(cp->cfg));
}

static const ipc_admin_fn handlers[PROTO_ADMIN_COUNT_] = {
        [PROTO_ADMIN_PING] = admin_ping,          [PROTO_ADMIN_STATUS] = admin_status,
        [PROTO_ADMIN_ENGINES] = admin_engines,    [PROTO_ADMIN_STREAMS] = admin_streams,
        [PROTO_ADMIN_STREAM] = admin_stream,      [PROTO_ADMIN_STOP] = admin_stop,
        [PROTO_ADMIN_DRAIN] = admin_drain_resume, [PROTO_ADMIN_RESUME] = admin_drain_resume,
        [PROTO_ADMIN_CONFIG] = admin_config,      [PROTO_ADMIN_DATAPLANES] = admin_dataplanes,
};

void cp_on_admin(void *ud, struct ipc_req *req, const uint8_t *buf, size_t len)
{
	struct cp *cp = ud;
	char err[256];
	if (!ipc_admin_serve(req, buf, len, handlers, cp, "a dataplane (acexyctl --dataplane)", err,
	                     sizeof(err))) {
		cp->bad_messages++;
		ALOG(ALOG_WARN, "bad_message", ALOG_S("socket", "admin"), ALOG_S("error", err));
	}
}
