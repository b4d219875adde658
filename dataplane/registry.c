/* Live streams as the control loop and the status pages see them. Touched
 * at stream start and end and once a second by heartbeats: never per byte. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dataplane/control.h"

struct stream_rec *dp_registry_add(struct dp *dp, uint64_t lease_id, int worker,
                                   const char *content, const char *engine)
{
	struct stream_rec *r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	r->lease_id = lease_id;
	r->worker = worker;
	snprintf(r->content, sizeof(r->content), "%s", content);
	snprintf(r->engine, sizeof(r->engine), "%s", engine);
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
