#include "controlplane/orch.h"
#include "controlplane/orch_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "acexy/clock.h"
#include "acexy/curl_ev.h"
#include "acexy/http_fetch.h"
#include "acexy/log.h"
#include "acexy/proto.h"
#include "acexy/settings.h"
#include "controlplane/debuglog.h"
#include "controlplane/fallback.h"
#include "controlplane/lease.h"

static void set_ctx(struct orch *o, const struct proto_assign *a, double t0)
{
	o->cur = a;
	o->cur_t0 = t0;
}

static void debug_request(struct orch *o, const char *outcome, uint64_t lease, const char *reason,
                          int retry_after)
{
	struct debuglog *dl = o->env.dl;
	double wait_ms = (acexy_now() - o->cur_t0) * 1000.0;
	DEBUGLOG_PACK(dl, DEBUGLOG_REQUESTS, "assign", "{s:s,s:s,s:s,s:s,s:I,s:s,s:i,s:f}",
	              "instance", o->cur ? o->cur->instance : "", "key_type",
	              o->cur ? o->cur->key_type : "", "key", o->cur ? o->cur->key : "", "outcome",
	              outcome, "lease", (json_int_t)lease, "reason", reason ? reason : "",
	              "retry_after", retry_after, "wait_ms", wait_ms);
	if (lease && wait_ms > 2000.0)
		DEBUGLOG_PACK(dl, DEBUGLOG_STRESS, "slow_selection", "{s:f,s:f,s:I,s:s}", "took_ms",
		              wait_ms, "threshold_ms", 2000.0, "lease", (json_int_t)lease, "key",
		              o->cur ? o->cur->key : "");
}

/* ---- HTTP calls ---- */

void orch_call_done(void *ud, const struct http_fetch_result *r)
{
	struct call *c = ud;
	c->body = r->body;
	c->len = r->len;
	if (c->ext)
		c->ext(c->ext_ud, r->res, r->status, r->body, r->len);
	else
		c->done(c->o, c, r->res, r->status);
	free(c);
}

static int call_start_ext(struct orch *o, const char *what, const char *path, const char *post,
                          long timeout_ms,
                          void (*done)(struct orch *, struct call *, CURLcode, long),
                          orch_http_fn ext, void *ext_ud)
{
	struct call *c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->o = o;
	c->done = done;
	c->ext = ext;
	c->ext_ud = ext_ud;
	snprintf(c->what, sizeof(c->what), "%s", what);
	snprintf(c->url, sizeof(c->url), "%s%s", o->base, path);
	struct curl_slist *headers = NULL;
	if (o->auth[0])
		headers = curl_slist_append(headers, o->auth);
	if (post)
		headers = curl_slist_append(headers, "Content-Type: application/json");
	struct http_fetch_req req = {.url = c->url,
	                             .max = BODY_MAX,
	                             .timeout_ms = timeout_ms,
	                             .connect_timeout_ms = 3000L,
	                             .headers = headers,
	                             .post = post};
	if (!http_fetch_start(o->ce, &req, orch_call_done, c)) {
		free(c);
		return -EIO;
	}
	return 0;
}

int orch_call(struct orch *o, const char *what, const char *path, const char *post, long timeout_ms,
              void (*done)(struct orch *, struct call *, CURLcode, long))
{
	return call_start_ext(o, what, path, post, timeout_ms, done, NULL, NULL);
}

int orch_http(struct orch *o, const char *what, const char *path, const char *post, long timeout_ms,
              orch_http_fn fn, void *ud)
{
	return call_start_ext(o, what, path, post, timeout_ms, NULL, fn, ud);
}

enum orch_state orch_get_state(const struct orch *o)
{
	return o ? o->state : ORCH_UNKNOWN;
}

/* ---- leases ---- */

static unsigned own_leases_on(struct orch *o, const char *container_id)
{
	return lease_count_on(o->env.leases, container_id);
}

/* The decisions go back to the controlplane, which leases and answers. */
static void refuse(struct orch *o, void *req, const char *reason, int eta)
{
	ALOG(ALOG_WARN, "assign_refused", ALOG_S("reason", reason), ALOG_I("retry_after", eta));
	debug_request(o, "refusal", 0, reason, eta > 0 ? eta : DEFAULT_RETRY);
	struct orch_decision d = {.reason = reason, .retry_after = eta > 0 ? eta : DEFAULT_RETRY};
	o->env.decided(o->env.ud, req, &d);
}

/* An engine for the request: the controlplane leases it and answers;
 * returns the lease id, 0 when it could not (it answered a refusal). */
static uint64_t grant(struct orch *o, void *req, const char *scheme, const char *host,
                      unsigned port, const char *container_id, bool fallback)
{
	struct orch_decision d = {.lease = true,
	                          .scheme = scheme,
	                          .host = host,
	                          .port = port,
	                          .container_id = container_id,
	                          .fallback = fallback};
	return o->env.decided(o->env.ud, req, &d);
}

/* why: "orchestrator unreachable", or why else the orchestrator cannot help */
static bool try_fallback(struct orch *o, void *req, const struct proto_assign *a, const char *why)
{
	const struct acexy_config *cfg = o->env.cfg;
	if (!acexy_cfg_b(cfg, ACEXY_S_FALLBACK))
		return false;
	if (fallback_health(o->env.fallback) == FB_UNHEALTHY) {
		ALOG(ALOG_WARN, "fallback_skipped", ALOG_S("why", fallback_error(o->env.fallback)));
		return false;
	}
	uint64_t id =
	        grant(o, req, acexy_cfg_s(cfg, ACEXY_S_SCHEME), acexy_cfg_s(cfg, ACEXY_S_HOST),
	              (unsigned)acexy_cfg_u(cfg, ACEXY_S_PORT), "", true);
	if (!id)
		return true; /* answered: a refusal */
	ALOG(ALOG_INFO, "lease_granted", ALOG_U("lease", id), ALOG_S("instance", a->instance),
	     ALOG_S("content", a->key), ALOG_S("engine", acexy_cfg_s(cfg, ACEXY_S_HOST)),
	     ALOG_U("port", acexy_cfg_u(cfg, ACEXY_S_PORT)), ALOG_B("fallback", true),
	     ALOG_S("why", why));
	char reason[200];
	snprintf(reason, sizeof(reason), "%s: the fallback engine", why);
	debug_request(o, "lease", id, reason, 0);
	DEBUGLOG_PACK(o->env.dl, DEBUGLOG_ENGINE_SELECTION, "fallback",
	              "{s:I,s:s,s:[],s:s,s:s,s:f}", "lease", (json_int_t)id, "key", a->key,
	              "candidates", "winner", "", "why", reason, "took_ms", 0.0);
	return true;
}

static void debug_selection(struct orch *o, uint64_t lease, int best, unsigned max)
{
	if (!debuglog_enabled(o->env.dl))
		return;
	static const char *const health[] = {"healthy", "unknown", "unhealthy"};
	json_t *cands = json_array();
	for (size_t i = 0; i < o->nengines; i++) {
		struct orch_engine *e = &o->engines[i];
		unsigned load = e->orch_streams + e->own_leases;
		bool ok = load < max && !e->avoid;
		json_array_append_new(
		        cands,
		        json_pack("{s:s,s:s,s:i,s:s,s:i,s:b,s:f,s:b,s:s}", "container_id",
		                  e->container_id, "host", e->host, "port", (int)e->port, "health",
		                  health[e->health % 3], "load", (int)load, "forwarded",
		                  e->forwarded, "last_usage", e->last_usage, "eligible", ok, "why",
		                  (int)i == best ? "chosen"
		                  : ok && e->suspect
		                          ? "suspect (a stream failed on it): ranked last"
		                  : ok       ? "eligible, ranked lower"
		                  : e->avoid ? "the failed engine this failover moves away from"
		                             : "full (load >= max_per_engine)"));
	}
	char why[300];
	if (best >= 0) {
		const struct orch_engine *e = &o->engines[best];
		snprintf(why, sizeof(why),
		         "best of %zu: health %s, load %u of %u, forwarded %s, least recently used",
		         o->nengines, health[e->health % 3], e->orch_streams + e->own_leases, max,
		         e->forwarded ? "yes" : "no");
	} else {
		snprintf(why, sizeof(why), "none of %zu engines has a free slot (max %u each)",
		         o->nengines, max);
	}
	debuglog_write(o->env.dl, DEBUGLOG_ENGINE_SELECTION, best >= 0 ? "selected" : "none_free",
	               json_pack("{s:I,s:s,s:o,s:s,s:s,s:i,s:f}", "lease", (json_int_t)lease, "key",
	                         o->cur ? o->cur->key : "", "candidates", cands, "winner",
	                         best >= 0 ? o->engines[best].container_id : "", "why", why,
	                         "max_per_engine", (int)max, "took_ms", 0.0));
}

/* A failover's assign names the engine that failed ("avoid"): that assign
 * does not get it while another engine (or a new one) can serve, and it
 * ranks last for every assign for SUSPECT_S. */
static void mark_suspect(struct orch *o, const char *avoid, double now)
{
	if (!avoid || !avoid[0])
		return;
	size_t k = 0;
	for (size_t i = 0; i < SUSPECT_MAX; i++) {
		if (strcmp(o->suspects[i].id, avoid) == 0 || o->suspects[i].until < now) {
			k = i;
			break;
		}
		if (o->suspects[i].until < o->suspects[k].until)
			k = i;
	}
	snprintf(o->suspects[k].id, sizeof(o->suspects[k].id), "%s", avoid);
	o->suspects[k].until = now + SUSPECT_S;
	ALOG(ALOG_INFO, "engine_suspect", ALOG_S("engine", avoid),
	     ALOG_S("why", "a stream failed on it (failover)"), ALOG_D("for_s", SUSPECT_S));
}

/* Whether `id` (a container id, or host:port) names the engine. */
static bool engine_is(const struct orch_engine *e, const char *id)
{
	if (!id || !id[0])
		return false;
	char hp[300];
	snprintf(hp, sizeof(hp), "%.255s:%u", e->host, e->port);
	return strcmp(id, e->container_id) == 0 || strcmp(id, hp) == 0;
}

static bool is_suspect(const struct orch *o, const struct orch_engine *e, double now)
{
	for (size_t i = 0; i < SUSPECT_MAX; i++)
		if (o->suspects[i].until >= now && engine_is(e, o->suspects[i].id))
			return true;
	return false;
}

/* Tries to serve one request from the engines known now. Returns true when
 * it was answered (lease or refusal). */
static bool decide(struct orch *o, void *req, const struct proto_assign *a, bool may_wait)
{
	const char *instance = a->instance;
	if (o->state == ORCH_UNREACHABLE) {
		if (try_fallback(o, req, a, "orchestrator unreachable"))
			return true;
		refuse(o, req,
		       acexy_cfg_b(o->env.cfg, ACEXY_S_FALLBACK)
		               ? "orchestrator unreachable and the fallback engine is unhealthy"
		               : "orchestrator unreachable and fallback disabled",
		       DEFAULT_RETRY);
		return true;
	}
	unsigned max = (unsigned)acexy_cfg_u(o->env.cfg, ACEXY_S_MAX_STREAMS_PER_ENGINE);
	double now = acexy_now();
	for (size_t i = 0; i < o->nengines; i++) {
		o->engines[i].own_leases = own_leases_on(o, o->engines[i].container_id);
		o->engines[i].suspect = is_suspect(o, &o->engines[i], now);
		o->engines[i].avoid = engine_is(&o->engines[i], a->avoid);
	}
	int best = orch_select(o->engines, o->nengines, max);
	if (best < 0 && !o->can_provision && a->avoid && a->avoid[0]) {
		/* nothing else can serve and no engine can be made: the failed
		 * engine rather than no engine */
		for (size_t i = 0; i < o->nengines; i++)
			o->engines[i].avoid = false;
		best = orch_select(o->engines, o->nengines, max);
	}
	if (best >= 0) {
		struct orch_engine *e = &o->engines[best];
		/* taken at decision time: the next request sees this slot used */
		uint64_t lease = grant(o, req, "http", e->host, e->port, e->container_id, false);
		if (!lease)
			return true; /* answered: a refusal */
		ALOG(ALOG_INFO, "lease_granted", ALOG_U("lease", lease),
		     ALOG_S("instance", instance), ALOG_S("content", a->key),
		     ALOG_S("engine", e->host), ALOG_U("port", e->port),
		     ALOG_S("container_id", e->container_id), ALOG_I("health", e->health),
		     ALOG_U("load", e->orch_streams + e->own_leases), ALOG_B("fallback", false),
		     ALOG_U("candidates", o->nengines));
		debug_request(o, "lease", lease, "", 0);
		debug_selection(o, lease, best, max);
		return true;
	}
	if (debuglog_enabled(o->env.dl))
		debug_selection(o, 0, -1, max);
	/* nothing runs and nothing can start: the fallback engine, if any */
	if (o->unavailable && !o->can_provision && o->nengines == 0 &&
	    try_fallback(o, req, a, "no engine runs and provisioning is blocked"))
		return true;
	if (!o->can_provision && o->block_should_wait) {
		char why[400];
		snprintf(why, sizeof(why), "no free engine and provisioning is blocked (%s: %s)",
		         o->block_code, o->block_msg);
		refuse(o, req, why, o->block_eta);
		return true;
	}
	if (!may_wait) {
		refuse(o, req, "no free engine", o->last_eta);
		return true;
	}
	return false;
}

static void waiter_free(struct waiter *w)
{
	free(w);
}

/* Serves the waiting requests in arrival order while engines allow. */
static void serve_waiters(struct orch *o)
{
	struct waiter **pp = &o->waiting;
	while (*pp) {
		struct waiter *w = *pp;
		set_ctx(o, &w->a, w->t0);
		if (decide(o, w->req, &w->a, true)) {
			*pp = w->next;
			waiter_free(w);
		} else {
			pp = &w->next;
		}
	}
	if (o->waiting && !o->provisioning && o->prov_retry_at == 0 && !o->prov_container[0])
		orch_provision_start(o);
}

void orch_refuse_all(struct orch *o, const char *reason, int eta)
{
	while (o->waiting) {
		struct waiter *w = o->waiting;
		o->waiting = w->next;
		set_ctx(o, &w->a, w->t0);
		refuse(o, w->req, reason, eta);
		waiter_free(w);
	}
}

/* ---- engines ---- */

static void engines_done(struct orch *o, struct call *c, CURLcode res, long code)
{
	o->engines_inflight = false;
	struct orch_engine *e = NULL;
	size_t k = 0;
	if (res != CURLE_OK || code != 200 || orch_parse_engines(c->body, c->len, &e, &k) < 0) {
		DEBUGLOG_PACK(o->env.dl, DEBUGLOG_ERRORS, "orchestrator_error", "{s:s,s:s,s:s}",
		              "error", "bad /engines answer", "where", "orchestrator /engines",
		              "detail",
		              res != CURLE_OK ? curl_easy_strerror(res)
		                              : "HTTP error or not a JSON array");
		ALOG(ALOG_WARN, "orchestrator_error", ALOG_S("call", "engines"),
		     ALOG_S("error", res != CURLE_OK ? curl_easy_strerror(res) : "bad answer"),
		     ALOG_I("http_status", code));
		o->state = ORCH_UNREACHABLE;
		serve_waiters(o); /* fallback or refusal */
		return;
	}
	free(o->engines);
	o->engines = e;
	o->nengines = k;
	o->engines_at = acexy_now();
	if (o->state == ORCH_UNREACHABLE || o->state == ORCH_UNKNOWN)
		o->state = ORCH_HEALTHY;
	serve_waiters(o);
}

void orch_engines_fetch(struct orch *o)
{
	if (o->engines_inflight)
		return;
	if (orch_call(o, "engines", "/engines", NULL, CALL_TIMEOUT_MS, engines_done) == 0)
		o->engines_inflight = true;
}

/* ---- status ---- */

static void status_done(struct orch *o, struct call *c, CURLcode res, long code)
{
	o->status_inflight = false;
	struct orch_status_answer sa;
	bool ok = res == CURLE_OK && code == 200 && orch_parse_status(c->body, c->len, &sa) == 0;
	enum orch_state before = o->state;
	bool could = o->can_provision;
	if (!ok) {
		o->state = ORCH_UNREACHABLE;
		if (before != ORCH_UNREACHABLE)
			DEBUGLOG_PACK(o->env.dl, DEBUGLOG_ORCHESTRATOR_HEALTH, "state_change",
			              "{s:s,s:s,s:s,s:i}", "from", orch_state_name(before), "to",
			              "unreachable", "error",
			              res != CURLE_OK ? curl_easy_strerror(res)
			              : code != 200
			                      ? "HTTP error from /orchestrator/status"
			                      : "/orchestrator/status answer is not a JSON object",
			              "http_status", (int)code);
		ALOG(before != ORCH_UNREACHABLE ? ALOG_WARN : ALOG_DEBUG,
		     "orchestrator_unreachable",
		     ALOG_S("error", res != CURLE_OK ? curl_easy_strerror(res) : "bad answer"),
		     ALOG_I("http_status", code));
	} else {
		const char *s = sa.status;
		o->state = sa.state;
		o->can_provision = sa.can_provision;
		o->unavailable = sa.unavailable;
		snprintf(o->status, sizeof(o->status), "%s", sa.status);
		snprintf(o->block_code, sizeof(o->block_code), "%s", sa.block_code);
		snprintf(o->block_msg, sizeof(o->block_msg), "%s", sa.block_msg);
		o->block_eta = sa.block_eta;
		o->block_should_wait = sa.should_wait;
		if (before != o->state)
			DEBUGLOG_PACK(o->env.dl, DEBUGLOG_ORCHESTRATOR_HEALTH, "state_change",
			              "{s:s,s:s,s:s,s:b,s:s,s:s,s:i}", "from",
			              orch_state_name(before), "to", orch_state_name(o->state),
			              "status", s, "can_provision", o->can_provision,
			              "blocked_code", o->block_code, "blocked_reason", o->block_msg,
			              "eta_s", o->block_eta);
		if (could != o->can_provision)
			DEBUGLOG_PACK(o->env.dl, DEBUGLOG_ORCHESTRATOR_HEALTH,
			              o->can_provision ? "unblocked" : "blocked",
			              "{s:b,s:s,s:s,s:i}", "can_provision", o->can_provision,
			              "blocked_code", o->block_code, "blocked_reason", o->block_msg,
			              "eta_s", o->block_eta);
		if (before != o->state)
			ALOG(ALOG_INFO, "orchestrator_state",
			     ALOG_S("state", orch_state_name(o->state)),
			     ALOG_B("can_provision", o->can_provision),
			     ALOG_S("blocked_code", o->block_code), ALOG_I("eta", o->block_eta));
	}
	if (o->state == ORCH_UNREACHABLE)
		serve_waiters(o);
	else if (before == ORCH_UNREACHABLE || before == ORCH_UNKNOWN)
		orch_engines_fetch(o);
	/* faster while degraded or unreachable */
	double period = (double)acexy_cfg_u(o->env.cfg, ACEXY_S_ORCH_POLL_INTERVAL) / 1000.0;
	if (o->state != ORCH_HEALTHY && period > 2.0)
		period = 2.0;
	ev_timer_stop(o->env.loop, &o->poll);
	ev_timer_set(&o->poll, period, 0.);
	ev_timer_start(o->env.loop, &o->poll);
}

static void on_poll(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct orch *o = t->data;
	if (!o->status_inflight &&
	    orch_call(o, "status", "/orchestrator/status", NULL, CALL_TIMEOUT_MS, status_done) == 0)
		o->status_inflight = true;
	else {
		ev_timer_set(t, 1.0, 0.);
		ev_timer_start(loop, t);
	}
}

static void on_tick(struct ev_loop *loop, ev_timer *t, int revents)
{
	struct orch *o = t->data;
	double now = acexy_now();
	struct waiter **pp = &o->waiting;
	while (*pp) {
		struct waiter *w = *pp;
		if (now >= w->deadline) {
			*pp = w->next;
			set_ctx(o, &w->a, w->t0);
			refuse(o, w->req, "no engine became available in time",
			       o->last_eta > 0 ? o->last_eta : DEFAULT_RETRY);
			waiter_free(w);
		} else {
			pp = &w->next;
		}
	}
	if (o->prov_retry_at > 0 && now >= o->prov_retry_at && o->waiting)
		orch_provision_start(o);
	if (o->prov_container[0] && !o->prov_ready_check && !o->engines_inflight)
		orch_check_new_engine(o);
}

/* ---- entry points ---- */

void orch_assign(struct orch *o, void *req, const struct proto_assign *a)
{
	double now = acexy_now();
	bool fresh = now - o->engines_at < ENGINES_TTL;
	set_ctx(o, a, now);
	mark_suspect(o, a->avoid, now);
	if (o->state != ORCH_UNREACHABLE && fresh && !o->prov_container[0] && !o->waiting &&
	    decide(o, req, a, true))
		return;
	if (o->state == ORCH_UNREACHABLE) {
		decide(o, req, a, false);
		return;
	}
	struct waiter *w = calloc(1, sizeof(*w));
	if (!w) {
		refuse(o, req, "out of memory", DEFAULT_RETRY);
		return;
	}
	w->req = req;
	snprintf(w->instance, sizeof(w->instance), "%s", a->instance);
	snprintf(w->key_type, sizeof(w->key_type), "%s", a->key_type);
	snprintf(w->key, sizeof(w->key), "%s", a->key);
	snprintf(w->avoid, sizeof(w->avoid), "%s", a->avoid ? a->avoid : "");
	w->a = (struct proto_assign){
	        .instance = w->instance, .key_type = w->key_type, .key = w->key, .avoid = w->avoid};
	w->deadline = now + (double)acexy_cfg_u(o->env.cfg, ACEXY_S_ASSIGN_TIMEOUT) / 1000.0;
	w->t0 = now;
	debug_request(o, "waiting", 0,
	              fresh ? "no free engine: provisioning" : "reading the engine list", 0);
	struct waiter **pp = &o->waiting;
	while (*pp)
		pp = &(*pp)->next;
	*pp = w;
	if (!fresh)
		orch_engines_fetch(o);
	else if (!o->provisioning && o->prov_retry_at == 0 && !o->prov_container[0])
		orch_provision_start(o);
}

int orch_start(const struct orch_env *env, struct orch **ret)
{
	struct orch *o = calloc(1, sizeof(*o));
	if (!o)
		return -ENOMEM;
	o->env = *env;
	snprintf(o->base, sizeof(o->base), "%s", acexy_cfg_s(env->cfg, ACEXY_S_ORCH_URL));
	size_t bl = strlen(o->base);
	while (bl > 0 && o->base[bl - 1] == '/')
		o->base[--bl] = '\0';
	const char *key = acexy_cfg_s(env->cfg, ACEXY_S_ORCH_APIKEY);
	if (key[0])
		snprintf(o->auth, sizeof(o->auth), "Authorization: Bearer %s", key);
	o->can_provision = true;
	o->ce = env->ce; /* the controlplane's one curl multi */
	ev_timer_init(&o->poll, on_poll, 0., 0.);
	o->poll.data = o;
	ev_timer_start(env->loop, &o->poll);
	ev_timer_init(&o->tick, on_tick, 0.2, 0.2);
	o->tick.data = o;
	ev_timer_start(env->loop, &o->tick);
	*ret = o;
	return 0;
}

void orch_stop(struct orch *o)
{
	if (!o)
		return;
	ev_timer_stop(o->env.loop, &o->poll);
	ev_timer_stop(o->env.loop, &o->tick);
	while (o->waiting) {
		struct waiter *w = o->waiting;
		o->waiting = w->next;
		struct orch_decision d = {.reason = "controlplane stopping",
		                          .retry_after = DEFAULT_RETRY};
		o->env.decided(o->env.ud, w->req, &d);
		waiter_free(w);
	}
	free(o->engines);
	free(o);
}

void orch_counters(const struct orch *o, struct orch_counters *c)
{
	c->state = o->state;
	c->engines = (unsigned)o->nengines;
	memset(c->by_health, 0, sizeof(c->by_health));
	for (size_t i = 0; i < o->nengines; i++)
		c->by_health[o->engines[i].health % 3]++;
	c->waiting = 0;
	for (const struct waiter *w = o->waiting; w; w = w->next)
		c->waiting++;
	c->provisions_ok = o->provisions_ok;
	c->provisions_failed = o->provisions_failed;
}

json_t *orch_status_json(struct orch *o)
{
	int nwait = 0;
	for (struct waiter *w = o->waiting; w; w = w->next)
		nwait++;
	return json_pack("{s:s,s:s,s:s,s:b,s:s,s:s,s:i,s:b,s:i,s:b,s:I,s:I}", "url", o->base,
	                 "state", orch_state_name(o->state), "status", o->status, "can_provision",
	                 o->can_provision, "blocked_code", o->block_code, "blocked_reason",
	                 o->block_msg, "blocked_eta_s", o->block_eta, "should_wait",
	                 o->block_should_wait, "waiting_requests", nwait, "provisioning",
	                 o->provisioning, "provisions_ok", (json_int_t)o->provisions_ok,
	                 "provisions_failed", (json_int_t)o->provisions_failed);
}

bool orch_engine_known(struct orch *o, const char *host, unsigned port)
{
	for (size_t i = 0; i < o->nengines; i++)
		if (o->engines[i].port == port && strcasecmp(o->engines[i].host, host) == 0)
			return true;
	return false;
}

json_t *orch_engines_json(struct orch *o)
{
	json_t *arr = json_array();
	static const char *const health[] = {"healthy", "unknown", "unhealthy"};
	for (size_t i = 0; i < o->nengines; i++) {
		struct orch_engine *e = &o->engines[i];
		unsigned own = own_leases_on(o, e->container_id);
		json_array_append_new(arr,
		                      json_pack("{s:s,s:s,s:i,s:s,s:i,s:i,s:b,s:b}", "container_id",
		                                e->container_id, "host", e->host, "port",
		                                (int)e->port, "health", health[e->health], "load",
		                                (int)(e->orch_streams + own), "leases", (int)own,
		                                "forwarded", e->forwarded, "fallback", 0));
	}
	return arr;
}
