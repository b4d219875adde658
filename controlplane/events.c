#include "controlplane/events.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "acexy/clock.h"
#include "acexy/log.h"
#include "acexy/settings.h"
#include "controlplane/debuglog.h"
#include "controlplane/lease.h"
#include "controlplane/orch.h"
#include "controlplane/spool.h"

#define MAX_INFLIGHT  4
#define CALL_TIMEOUT  5000L
#define BACKOFF_MIN_S 0.5
#define BACKOFF_MAX_S 10.0
#define TICK_S        0.2

enum item_kind { STARTED, ENDED };
enum item_phase { PH_IDLE, PH_CHECKING, PH_POSTING };

struct item {
	struct item *next;
	struct events *ev;
	uint64_t seq;
	enum item_kind kind;
	enum item_phase phase;
	char stream_id[200];
	char container_id[128];
	char reason[40];
	char chain[540]; /* the stream's content (key_type:key): a failover's sessions
	                  * share it; "" in records spooled before it */
	json_t *body;    /* the POST body */
	unsigned attempts;
	double next_at, queued;
	bool durable; /* in the spool */
};

struct events {
	struct ev_loop *loop;
	struct debuglog *dl;
	struct orch *orch;
	struct spool *spool;
	struct item *head, **tail;
	uint64_t next_seq;
	unsigned inflight;
	ev_timer tick;
	enum orch_state last_state;
	uint64_t delivered, skipped_unknown, dropped, rejected, retries, spool_errors;
	uint64_t loaded, bad_records;
	uint64_t in_memory; /* queued items not in the spool (its writes failed) */
	double respool_at;  /* next try to spool them */
	bool stopping;
};

void events_stream_id(const char *container_id, const char *psid, char *out, size_t cap)
{
	char cid[13];
	size_t n = 0;
	for (const char *p = container_id; *p && n < 12; p++)
		cid[n++] = *p;
	cid[n] = '\0';
	int w = snprintf(out, cap, "acexy-%s-", cid[0] ? cid : "engine");
	if (w < 0 || (size_t)w >= cap)
		return;
	size_t o = (size_t)w;
	for (const char *p = psid; *p && o + 1 < cap && o < 190; p++) {
		char c = *p;
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		          (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
		out[o++] = ok ? c : '_';
	}
	out[o] = '\0';
}

/* ---- the queue ---- */

static json_t *item_json(const struct item *it)
{
	return json_pack("{s:s,s:s,s:s,s:s,s:s,s:O,s:f}", "kind",
	                 it->kind == STARTED ? "started" : "ended", "stream_id", it->stream_id,
	                 "container_id", it->container_id, "reason", it->reason, "chain", it->chain,
	                 "body", it->body, "queued", it->queued);
}

static struct item *item_from_json(struct events *ev, uint64_t seq, json_t *j)
{
	const char *kind = json_string_value(json_object_get(j, "kind"));
	const char *sid = json_string_value(json_object_get(j, "stream_id"));
	const char *cid = json_string_value(json_object_get(j, "container_id"));
	json_t *body = json_object_get(j, "body");
	if (!kind || !sid || !cid || !json_is_object(body) ||
	    (strcmp(kind, "started") != 0 && strcmp(kind, "ended") != 0))
		return NULL;
	struct item *it = calloc(1, sizeof(*it));
	if (!it)
		return NULL;
	it->ev = ev;
	it->seq = seq;
	it->kind = strcmp(kind, "started") == 0 ? STARTED : ENDED;
	snprintf(it->stream_id, sizeof(it->stream_id), "%s", sid);
	snprintf(it->container_id, sizeof(it->container_id), "%s", cid);
	const char *reason = json_string_value(json_object_get(j, "reason"));
	snprintf(it->reason, sizeof(it->reason), "%s", reason ? reason : "");
	const char *chain = json_string_value(json_object_get(j, "chain"));
	snprintf(it->chain, sizeof(it->chain), "%s", chain ? chain : "");
	it->body = json_incref(body);
	json_t *q = json_object_get(j, "queued");
	it->queued = json_is_number(q) ? json_number_value(q) : 0;
	it->durable = true;
	return it;
}

static void item_unlink(struct events *ev, struct item *it)
{
	for (struct item **pp = &ev->head; *pp; pp = &(*pp)->next) {
		if (*pp != it)
			continue;
		*pp = it->next;
		if (ev->tail == &it->next)
			ev->tail = pp;
		return;
	}
}

/* Delivered, skipped or rejected: out of the queue and the spool. */
static void finish(struct events *ev, struct item *it, const char *outcome)
{
	item_unlink(ev, it);
	if (!it->durable)
		ev->in_memory--;
	if (it->durable && ev->spool) {
		int rc = spool_done(ev->spool, it->seq);
		if (rc < 0) {
			ev->spool_errors++;
			ALOG(ALOG_ERROR, "spool_write_failed",
			     ALOG_S("path", spool_path(ev->spool)), ALOG_S("error", strerror(-rc)));
		}
	}
	DEBUGLOG_PACK(ev->dl, DEBUGLOG_STREAMS,
	              strcmp(outcome, "delivered") == 0 ? "event_sent" : "event_skipped",
	              "{s:s,s:s,s:s,s:i}", "stream_id", it->stream_id, "container_id",
	              it->container_id, "reason",
	              strcmp(outcome, "delivered") == 0
	                      ? (it->kind == STARTED ? "stream_started" : "stream_ended")
	                      : outcome,
	              "attempts", (int)it->attempts);
	ALOG(strcmp(outcome, "delivered") == 0 ? ALOG_INFO : ALOG_WARN, "stream_event",
	     ALOG_S("event", it->kind == STARTED ? "stream_started" : "stream_ended"),
	     ALOG_S("stream_id", it->stream_id), ALOG_S("container_id", it->container_id),
	     ALOG_S("outcome", outcome), ALOG_U("attempts", it->attempts));
	json_decref(it->body);
	free(it);
}

static void retry_later(struct events *ev, struct item *it, const char *why, long http_status)
{
	it->phase = PH_IDLE;
	ev->retries++;
	double d = BACKOFF_MIN_S;
	for (unsigned i = 1; i < it->attempts && d < BACKOFF_MAX_S; i++)
		d *= 2;
	if (d > BACKOFF_MAX_S)
		d = BACKOFF_MAX_S;
	it->next_at = acexy_now() + d;
	DEBUGLOG_PACK(ev->dl, DEBUGLOG_STREAMS, "event_failed", "{s:s,s:s,s:s,s:i,s:i}",
	              "stream_id", it->stream_id, "container_id", it->container_id, "reason", why,
	              "http_status", (int)http_status, "attempts", (int)it->attempts);
	ALOG(it->attempts == 1 || it->attempts % 10 == 0 ? ALOG_WARN : ALOG_DEBUG,
	     "stream_event_retry",
	     ALOG_S("event", it->kind == STARTED ? "stream_started" : "stream_ended"),
	     ALOG_S("stream_id", it->stream_id), ALOG_S("error", why),
	     ALOG_I("http_status", http_status), ALOG_U("attempts", it->attempts),
	     ALOG_D("retry_in_s", d));
}

static bool started_pending(const struct events *ev, const struct item *ended)
{
	for (const struct item *it = ev->head; it && it != ended; it = it->next)
		if (it->kind == STARTED && strcmp(it->stream_id, ended->stream_id) == 0)
			return true;
	return false;
}

/* A failover's replacement starts after the failed session's end reached
 * the orchestrator (INTERFACE.md: its stream_ended, then the new
 * stream_started): a start waits for the earlier `failover` ends of its own
 * stream (the same content: the replacement's assign asks for the failed
 * stream's key), not for other streams' (one end retried with backoff would
 * hold back every new stream's start). An end spooled without its content
 * holds back every start, as before. */
static bool failover_end_pending(const struct events *ev, const struct item *started)
{
	for (const struct item *it = ev->head; it && it != started; it = it->next)
		if (it->kind == ENDED && strcmp(it->reason, "failover") == 0 &&
		    (!it->chain[0] || strcmp(it->chain, started->chain) == 0))
			return true;
	return false;
}

static void send_item(struct events *ev, struct item *it);

static void on_posted(void *ud, int res, long code, const char *body, size_t len)
{
	(void)len;
	struct item *it = ud;
	struct events *ev = it->ev;
	ev->inflight--;
	if (res == 0 && code >= 200 && code < 300) {
		ev->delivered++;
		finish(ev, it, "delivered");
		return;
	}
	if (res == 0 && (code == 400 || code == 404 || code == 422)) {
		/* the orchestrator will never take it: resending cannot help */
		ev->rejected++;
		ALOG(ALOG_ERROR, "stream_event_rejected",
		     ALOG_S("event", it->kind == STARTED ? "stream_started" : "stream_ended"),
		     ALOG_S("stream_id", it->stream_id), ALOG_I("http_status", code),
		     ALOG_S("answer", len > 300 ? "(long)" : body));
		finish(ev, it, "rejected");
		return;
	}
	char why[96];
	snprintf(why, sizeof(why), "%s",
	         res != 0 ? curl_easy_strerror((CURLcode)res) : "HTTP error");
	retry_later(ev, it, why, code);
}

static bool lists_stream(json_t *arr, const char *stream_id)
{
	size_t i;
	json_t *s;
	json_array_foreach(arr, i, s)
	{
		const char *id = json_string_value(json_object_get(s, "id"));
		const char *lid = json_string_value(
		        json_object_get(json_object_get(s, "labels"), "stream_id"));
		if ((id && strcmp(id, stream_id) == 0) || (lid && strcmp(lid, stream_id) == 0))
			return true;
	}
	return false;
}

static void post(struct events *ev, struct item *it)
{
	char *js = json_dumps(it->body, JSON_COMPACT);
	const char *path = it->kind == STARTED ? "/events/stream_started" : "/events/stream_ended";
	it->phase = PH_POSTING;
	if (!js || orch_http(ev->orch, it->kind == STARTED ? "stream_started" : "stream_ended",
	                     path, js, CALL_TIMEOUT, on_posted, it) < 0) {
		free(js);
		retry_later(ev, it, "cannot start the call", 0);
		return;
	}
	free(js);
	ev->inflight++;
}

static void on_checked(void *ud, int res, long code, const char *body, size_t len)
{
	struct item *it = ud;
	struct events *ev = it->ev;
	ev->inflight--;
	json_error_t jerr;
	json_t *arr = res == 0 && code == 200 ? json_loadb(body, len, 0, &jerr) : NULL;
	if (!json_is_array(arr)) {
		json_decref(arr);
		retry_later(ev, it,
		            res != 0 ? curl_easy_strerror((CURLcode)res) : "bad /streams answer",
		            code);
		return;
	}
	bool known = lists_stream(arr, it->stream_id);
	json_decref(arr);
	if (!known) {
		/* ending an id the orchestrator does not know would end another
		 * stream of that engine: nothing to end */
		ev->skipped_unknown++;
		ALOG(ALOG_WARN, "stream_ended_skipped", ALOG_S("stream_id", it->stream_id),
		     ALOG_S("container_id", it->container_id),
		     ALOG_S("why", "the orchestrator does not list the stream as started"));
		finish(ev, it, "skipped_unknown");
		return;
	}
	post(ev, it);
}

static void send_item(struct events *ev, struct item *it)
{
	it->attempts++;
	if (it->kind == STARTED) {
		post(ev, it);
		return;
	}
	char path[400];
	char *cid = curl_easy_escape(NULL, it->container_id, 0);
	snprintf(path, sizeof(path), "/streams?status=started&container_id=%s", cid ? cid : "");
	curl_free(cid);
	it->phase = PH_CHECKING;
	if (orch_http(ev->orch, "streams", path, NULL, CALL_TIMEOUT, on_checked, it) < 0) {
		retry_later(ev, it, "cannot start the call", 0);
		return;
	}
	ev->inflight++;
}

#define RESPOOL_S 1.0

/* Items whose spool write failed (a full disk) are written once the disk
 * takes them again, in queue order, so a restart still finds them all; a
 * spool left without a done mark is rewritten from memory. */
static void respool(struct events *ev, double now)
{
	int rc = spool_sync(ev->spool);
	uint64_t n = 0;
	for (struct item *it = ev->head; it && rc == 0 && ev->in_memory; it = it->next) {
		if (it->durable)
			continue;
		json_t *j = item_json(it);
		rc = j ? spool_add(ev->spool, it->seq, j) : -ENOMEM;
		json_decref(j);
		if (rc == 0) {
			it->durable = true;
			ev->in_memory--;
			n++;
		}
	}
	if (rc < 0) {
		ev->respool_at = now + RESPOOL_S;
		ALOG(ALOG_DEBUG, "spool_retry_failed", ALOG_S("path", spool_path(ev->spool)),
		     ALOG_S("error", strerror(-rc)), ALOG_U("in_memory", ev->in_memory));
	}
	if (n)
		ALOG(ALOG_INFO, "spool_caught_up", ALOG_S("path", spool_path(ev->spool)),
		     ALOG_U("spooled", n), ALOG_U("in_memory", ev->in_memory));
}

static void on_tick(struct ev_loop *loop, ev_timer *t, int revents)
{
	(void)loop;
	(void)revents;
	struct events *ev = t->data;
	double now = acexy_now();
	if (ev->spool && now >= ev->respool_at && (ev->in_memory || spool_stale(ev->spool)))
		respool(ev, now);
	enum orch_state st = orch_get_state(ev->orch);
	if (st == ORCH_HEALTHY && ev->last_state != ORCH_HEALTHY)
		for (struct item *it = ev->head; it; it = it->next)
			it->next_at = 0; /* back: deliver now */
	ev->last_state = st;
	for (struct item *it = ev->head; it && ev->inflight < MAX_INFLIGHT;) {
		struct item *next = it->next; /* send_item may finish (free) it */
		if (it->phase == PH_IDLE && now >= it->next_at &&
		    !(it->kind == ENDED && started_pending(ev, it)) &&
		    !(it->kind == STARTED && failover_end_pending(ev, it)))
			send_item(ev, it);
		it = next;
	}
}

static bool enqueue(struct events *ev, struct item *it)
{
	it->ev = ev;
	it->seq = ev->next_seq++;
	it->queued = (double)time(NULL);
	json_t *j = item_json(it);
	int rc = ev->spool ? spool_add(ev->spool, it->seq, j) : -ENOENT;
	json_decref(j);
	if (rc == -EFBIG) {
		ev->dropped++;
		ALOG(ALOG_ERROR, "stream_event_dropped",
		     ALOG_S("event", it->kind == STARTED ? "stream_started" : "stream_ended"),
		     ALOG_S("stream_id", it->stream_id),
		     ALOG_S("why", "spool full (ACEXY_SPOOL_MAX)"));
		json_decref(it->body);
		free(it);
		return false;
	}
	if (rc < 0) {
		/* kept in memory: delivered unless the controlplane restarts first */
		ev->spool_errors++;
		ALOG(ALOG_ERROR, "spool_write_failed", ALOG_S("path", spool_path(ev->spool)),
		     ALOG_S("error", strerror(-rc)), ALOG_S("stream_id", it->stream_id));
		ev->in_memory++;
		ev->respool_at = acexy_now() + RESPOOL_S;
	}
	it->durable = rc == 0;
	*ev->tail = it;
	ev->tail = &it->next;
	ev_feed_event(ev->loop, &ev->tick, EV_TIMER); /* send soon, not in this call */
	return true;
}

void events_stream_started(struct events *ev, struct cp_lease *l)
{
	if (!ev || l->fallback || !l->container_id[0])
		return;
	char sid[sizeof(l->stream_id)];
	events_stream_id(l->container_id, l->playback_session_id, sid, sizeof(sid));
	struct item *it = calloc(1, sizeof(*it));
	if (!it)
		return;
	it->kind = STARTED;
	snprintf(it->stream_id, sizeof(it->stream_id), "%s", sid);
	snprintf(it->chain, sizeof(it->chain), "%s:%s", l->key_type, l->key);
	snprintf(it->container_id, sizeof(it->container_id), "%s", l->container_id);
	it->body = json_pack("{s:s,s:{s:s,s:i},s:{s:s,s:s},s:{s:s,s:s,s:s,s:i},s:{s:s}}",
	                     "container_id", l->container_id, "engine", "host", l->host, "port",
	                     (int)l->port, "stream", "key_type", l->key_type, "key", l->key,
	                     "session", "playback_session_id", l->playback_session_id, "stat_url",
	                     l->stat_url, "command_url", l->command_url, "is_live",
	                     l->is_live ? 1 : 0, "labels", "stream_id", sid);
	if (!it->body) {
		free(it);
		return;
	}
	/* a stream whose start was never queued gets no end either */
	if (enqueue(ev, it))
		snprintf(l->stream_id, sizeof(l->stream_id), "%s", sid);
}

void events_stream_ended(struct events *ev, const struct cp_lease *l, const char *reason)
{
	if (!ev || l->fallback || !l->stream_id[0])
		return;
	struct item *it = calloc(1, sizeof(*it));
	if (!it)
		return;
	it->kind = ENDED;
	snprintf(it->stream_id, sizeof(it->stream_id), "%s", l->stream_id);
	if (l->key[0])
		snprintf(it->chain, sizeof(it->chain), "%s:%s", l->key_type, l->key);
	snprintf(it->container_id, sizeof(it->container_id), "%s", l->container_id);
	snprintf(it->reason, sizeof(it->reason), "%s", reason ? reason : "");
	it->body = json_pack("{s:s,s:s,s:s}", "container_id", l->container_id, "stream_id",
	                     l->stream_id, "reason", it->reason);
	if (!it->body) {
		free(it);
		return;
	}
	enqueue(ev, it);
}

void events_stream_ended_unleased(struct events *ev, const char *container_id,
                                  const char *playback_session_id, const char *reason)
{
	if (!ev || !container_id || !container_id[0] || !playback_session_id ||
	    !playback_session_id[0])
		return;
	struct cp_lease l;
	memset(&l, 0, sizeof(l));
	snprintf(l.container_id, sizeof(l.container_id), "%s", container_id);
	events_stream_id(container_id, playback_session_id, l.stream_id, sizeof(l.stream_id));
	ALOG(ALOG_INFO, "stream_ended_while_away", ALOG_S("stream_id", l.stream_id),
	     ALOG_S("reason", reason));
	events_stream_ended(ev, &l, reason);
}

int events_start(struct ev_loop *loop, const struct acexy_config *cfg, struct debuglog *dl,
                 struct orch *orch, struct events **ret, char *err, size_t errcap)
{
	struct events *ev = calloc(1, sizeof(*ev));
	if (!ev) {
		snprintf(err, errcap, "out of memory");
		return -ENOMEM;
	}
	ev->loop = loop;
	ev->dl = dl;
	ev->orch = orch;
	ev->tail = &ev->head;
	ev->next_seq = 1;
	ev->last_state = ORCH_UNKNOWN;
	struct spool_pending *pend = NULL;
	size_t npend = 0;
	struct spool_parse_stats st;
	int rc =
	        spool_open(acexy_cfg_s(cfg, ACEXY_S_STATE_DIR), acexy_cfg_u(cfg, ACEXY_S_SPOOL_MAX),
	                   &ev->spool, &pend, &npend, &st, err, errcap);
	if (rc < 0) {
		free(ev);
		return rc;
	}
	if (st.bad)
		ALOG(ALOG_ERROR, "spool_records_skipped", ALOG_S("path", spool_path(ev->spool)),
		     ALOG_U("bad", st.bad), ALOG_B("torn_tail", st.torn_tail),
		     ALOG_S("why", "checksum or JSON wrong (an interrupted write?)"));
	ev->bad_records = st.bad;
	for (size_t i = 0; i < npend; i++) {
		if (pend[i].seq >= ev->next_seq)
			ev->next_seq = pend[i].seq + 1;
		struct item *it = item_from_json(ev, pend[i].seq, pend[i].event);
		json_decref(pend[i].event);
		if (!it) {
			ev->bad_records++;
			spool_done(ev->spool, pend[i].seq);
			continue;
		}
		*ev->tail = it;
		ev->tail = &it->next;
		ev->loaded++;
	}
	free(pend);
	ALOG(ALOG_INFO, "spool_loaded", ALOG_S("path", spool_path(ev->spool)),
	     ALOG_U("pending", ev->loaded), ALOG_U("bad", ev->bad_records));
	ev_timer_init(&ev->tick, on_tick, TICK_S, TICK_S);
	ev->tick.data = ev;
	ev_timer_start(loop, &ev->tick);
	*ret = ev;
	return 0;
}

void events_stop(struct events *ev)
{
	if (!ev)
		return;
	ev_timer_stop(ev->loop, &ev->tick);
	uint64_t n = 0;
	while (ev->head) {
		struct item *it = ev->head;
		ev->head = it->next;
		n++;
		json_decref(it->body);
		free(it);
	}
	/* the pending events are in the spool (fdatasync'd at queueing), but
	 * for those whose writes failed all along (a disk still full) */
	ALOG(n ? ALOG_WARN : ALOG_INFO, "events_pending_at_exit", ALOG_U("pending", n),
	     ALOG_U("not_spooled", ev->in_memory), ALOG_S("spool", spool_path(ev->spool)));
	spool_close(ev->spool);
	free(ev);
}

void events_counters(const struct events *ev, struct events_counters *c)
{
	memset(c, 0, sizeof(*c));
	if (!ev)
		return;
	for (const struct item *it = ev->head; it; it = it->next)
		c->pending++;
	c->delivered = ev->delivered;
	c->skipped_unknown = ev->skipped_unknown;
	c->dropped = ev->dropped;
	c->rejected = ev->rejected;
	c->retries = ev->retries;
	c->spool_errors = ev->spool_errors;
	c->spool_bytes = spool_bytes(ev->spool);
	c->in_memory = ev->in_memory;
}

json_t *events_status_json(const struct events *ev)
{
	struct events_counters c;
	events_counters(ev, &c);
	return json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:s}", "pending",
	                 (json_int_t)c.pending, "not_spooled", (json_int_t)c.in_memory, "delivered",
	                 (json_int_t)c.delivered, "skipped_unknown", (json_int_t)c.skipped_unknown,
	                 "dropped", (json_int_t)c.dropped, "rejected", (json_int_t)c.rejected,
	                 "retries", (json_int_t)c.retries, "spool_errors",
	                 (json_int_t)c.spool_errors, "spool_bytes", (json_int_t)c.spool_bytes,
	                 "spool_bad_records", (json_int_t)(ev ? ev->bad_records : 0), "spool",
	                 ev ? spool_path(ev->spool) : "");
}
