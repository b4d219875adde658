/* Live streams as the control loop and the status pages see them. Touched
 * at stream start and end and once a second by heartbeats: never per byte. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acexy/engine_answer.h"
#include "dataplane/control.h"

#include <jansson.h>

struct stream_rec *dp_registry_add(struct dp *dp, const struct dp_lease *lease, int worker,
                                   const char *key_type, const char *key, const char *engine,
                                   const struct dp_session_info *info)
{
	struct stream_rec *r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	r->lease_id = lease->lease_id;
	r->worker = worker;
	snprintf(r->content, sizeof(r->content), "%s:%s", key_type, key);
	snprintf(r->engine, sizeof(r->engine), "%s", engine);
	snprintf(r->key_type, sizeof(r->key_type), "%s", key_type);
	snprintf(r->key, sizeof(r->key), "%s", key);
	snprintf(r->scheme, sizeof(r->scheme), "%s", lease->scheme);
	snprintf(r->host, sizeof(r->host), "%s", lease->host);
	r->port = lease->port;
	snprintf(r->container_id, sizeof(r->container_id), "%s", lease->container_id);
	r->fallback = lease->fallback;
	if (info) {
		snprintf(r->playback_session_id, sizeof(r->playback_session_id), "%s",
		         info->playback_session_id ? info->playback_session_id : "");
		snprintf(r->stat_url, sizeof(r->stat_url), "%s",
		         info->stat_url ? info->stat_url : "");
		snprintf(r->command_url, sizeof(r->command_url), "%s",
		         info->command_url ? info->command_url : "");
		r->is_live = info->is_live;
	}
	r->started = dp_now();
	atomic_store(&r->viewers, 1);
	pthread_mutex_lock(&dp->reg_mu);
	r->next = dp->streams;
	dp->streams = r;
	pthread_mutex_unlock(&dp->reg_mu);
	return r;
}

void dp_registry_remove(struct dp *dp, struct stream_rec *rec)
{
	if (!rec)
		return;
	pthread_mutex_lock(&dp->reg_mu);
	for (struct stream_rec **pp = &dp->streams; *pp; pp = &(*pp)->next) {
		if (*pp == rec) {
			*pp = rec->next;
			break;
		}
	}
	pthread_mutex_unlock(&dp->reg_mu);
	free(rec);
}

void dp_registry_set_lease(struct dp *dp, struct stream_rec *rec, uint64_t lease_id)
{
	if (!rec)
		return;
	pthread_mutex_lock(&dp->reg_mu);
	rec->lease_id = lease_id;
	pthread_mutex_unlock(&dp->reg_mu);
}

void dp_registry_set_playing(struct dp *dp, struct stream_rec *rec)
{
	if (!rec)
		return;
	pthread_mutex_lock(&dp->reg_mu);
	rec->playing = true;
	pthread_mutex_unlock(&dp->reg_mu);
}

void dp_registry_set_stat(struct dp *dp, struct stream_rec *rec, const struct engine_stat *st,
                          const char *why)
{
	if (!rec)
		return;
	pthread_mutex_lock(&dp->reg_mu);
	rec->stat_at = dp_now();
	if (!st) {
		snprintf(rec->stat_error, sizeof(rec->stat_error), "%s", why ? why : "stat failed");
	} else if (!st->known) {
		snprintf(rec->stat_error, sizeof(rec->stat_error),
		         "engine no longer knows the session");
	} else {
		rec->stat_error[0] = '\0';
		if (!st->empty) {
			snprintf(rec->stat_status, sizeof(rec->stat_status), "%s", st->status);
			rec->stat_peers = st->peers;
			rec->stat_speed_down = st->speed_down;
			rec->stat_speed_up = st->speed_up;
			rec->stat_downloaded = st->downloaded;
			rec->stat_progress = st->total_progress;
		}
	}
	pthread_mutex_unlock(&dp->reg_mu);
}

const char *dp_registry_state(const struct stream_rec *r)
{
	return r->playing ? "playing" : "prebuffering";
}

json_t *dp_registry_engine_json(const struct stream_rec *r, double now)
{
	if (r->stat_at <= 0)
		return json_null();
	json_t *o = json_pack("{s:f}", "age_s", now - r->stat_at);
	if (r->stat_status[0])
		json_object_update_new(
		        o, json_pack("{s:s,s:I,s:I,s:I,s:I,s:f}", "status", r->stat_status, "peers",
		                     (json_int_t)r->stat_peers, "speed_down",
		                     (json_int_t)r->stat_speed_down, "speed_up",
		                     (json_int_t)r->stat_speed_up, "downloaded",
		                     (json_int_t)r->stat_downloaded, "progress", r->stat_progress));
	json_object_set_new(o, "error",
	                    r->stat_error[0] ? json_string(r->stat_error) : json_null());
	return o;
}
