/* The dataplane's own admin socket (dataplane-<instance>.sock): acexyctl
 * --dataplane. The commands are the PROTO_ADMIN_COMMANDS table
 * (include/acexy/proto.h); each one this daemon answers has a handler below,
 * indexed by the table's enum. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acexy/log.h"
#include "acexy/proto.h"
#include "dataplane/control.h"

typedef json_t *(*admin_fn)(void *ctx, const struct proto_admin *a, char *err, size_t errcap);

static json_t *admin_ping(void *ctx, const struct proto_admin *a, char *err, size_t errcap)
{
	struct dp *dp = ctx;
	return json_pack("{s:b,s:s,s:s,s:s}", "pong", 1, "program", "acexy-dataplane", "version",
	                 ACEXY_VERSION, "instance", dp->instance);
}

static json_t *streams_json(struct dp *dp, double now)
{
	json_t *streams = json_array();
	pthread_mutex_lock(&dp->reg_mu);
	for (struct stream_rec *r = dp->streams; r; r = r->next)
		json_array_append_new(
		        streams, json_pack("{s:I,s:s,s:s,s:i,s:I,s:i,s:f,s:i,s:s,s:o}", "lease",
		                           (json_int_t)r->lease_id, "content", r->content, "engine",
		                           r->engine, "worker", r->worker, "bytes",
		                           (json_int_t)atomic_load(&r->bytes), "viewers",
		                           (int)atomic_load(&r->viewers), "age_s", now - r->started,
		                           "failovers", (int)atomic_load(&r->failovers), "state",
		                           dp_registry_state(r), "engine_state",
		                           dp_registry_engine_json(r, now)));
	pthread_mutex_unlock(&dp->reg_mu);
	return streams;
}

static json_t *admin_status(void *ctx, const struct proto_admin *a, char *err, size_t errcap)
{
	struct dp *dp = ctx;
	double now = dp_now();
	return json_pack("{s:s,s:s,s:s,s:b,s:s,s:b,s:i,s:I,s:I,s:i,s:I,s:f,s:o}", "program",
	                 "acexy-dataplane", "version", ACEXY_VERSION, "instance", dp->instance,
	                 "controlplane_connected", dp_control_connected(dp), "controlplane_refused",
	                 dp_control_refused(dp), "draining", atomic_load(&dp->draining), "workers",
	                 dp->nworkers, "viewers", (json_int_t)atomic_load(&dp->stats.viewer_slots),
	                 "bytes_relayed", (json_int_t)dp_bytes_relayed(dp), "ended_pending",
	                 (int)dp_control_pending_ends(dp), "bad_messages",
	                 (json_int_t)atomic_load(&dp->stats.bad_messages), "uptime_s",
	                 now - dp->start_time, "streams", streams_json(dp, now));
}

static json_t *admin_streams(void *ctx, const struct proto_admin *a, char *err, size_t errcap)
{
	struct dp *dp = ctx;
	return json_pack("{s:o}", "streams", streams_json(dp, dp_now()));
}

static json_t *admin_drain_resume(void *ctx, const struct proto_admin *a, char *err, size_t errcap)
{
	struct dp *dp = ctx;
	dp_control_apply(dp, a->command, 0);
	return json_pack("{s:s,s:[s]}", "command", a->command, "dataplanes", dp->instance);
}

static json_t *admin_stop(void *ctx, const struct proto_admin *a, char *err, size_t errcap)
{
	struct dp *dp = ctx;
	dp_control_apply(dp, "stop", strtoull(a->arg, NULL, 10));
	return json_pack("{s:s}", "stopping", a->arg);
}

static json_t *admin_config(void *ctx, const struct proto_admin *a, char *err, size_t errcap)
{
	struct dp *dp = ctx;
	return json_pack("{s:s,s:o}", "program", "acexy-dataplane", "settings",
	                 acexy_config_json(dp->cfg));
}

static const ipc_admin_fn handlers[PROTO_ADMIN_COUNT_] = {
        [PROTO_ADMIN_PING] = admin_ping,          [PROTO_ADMIN_STATUS] = admin_status,
        [PROTO_ADMIN_STREAMS] = admin_streams,    [PROTO_ADMIN_STOP] = admin_stop,
        [PROTO_ADMIN_DRAIN] = admin_drain_resume, [PROTO_ADMIN_RESUME] = admin_drain_resume,
        [PROTO_ADMIN_CONFIG] = admin_config,
};

void dp_admin_request(void *ud, struct ipc_req *req, const uint8_t *buf, size_t len)
{
	struct dp *dp = ud;
	char err[256];
	if (!ipc_admin_serve(req, buf, len, handlers, dp, "the controlplane", err, sizeof(err))) {
		atomic_fetch_add(&dp->stats.bad_messages, 1);
		ALOG(ALOG_WARN, "bad_message", ALOG_S("socket", "admin"), ALOG_S("error", err));
	}
}
