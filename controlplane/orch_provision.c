/* Orchestrator mode: provisioning a new engine (POST /provision/acestream
 * with retries after the orchestrator's ETA), then waiting until it is
 * listed and answers get_status before the waiting requests get it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acexy/clock.h"
#include "acexy/http_fetch.h"
#include "acexy/log.h"
#include "controlplane/debuglog.h"
#include "controlplane/orch.h"
#include "controlplane/orch_int.h"

static void ready_done(struct orch *o, struct call *c, CURLcode res, long code)
{
	o->prov_ready_check = false;
	if (res == CURLE_OK && code == 200 && c->body && c->body[0] == '{') {
		ALOG(ALOG_INFO, "engine_ready", ALOG_S("container_id", o->prov_container),
		     ALOG_D("after_s", acexy_now() - o->prov_started));
		double took = (acexy_now() - o->prov_started) * 1000.0;
		DEBUGLOG_PACK(o->env.dl, DEBUGLOG_PROVISIONING, "engine_ready", "{s:i,s:s,s:f}",
		              "attempt", (int)o->prov_attempt, "container_id", o->prov_container,
		              "took_ms", took);
		if (took > 30000.0)
			DEBUGLOG_PACK(o->env.dl, DEBUGLOG_STRESS, "slow_provisioning", "{s:f,s:f}",
			              "took_ms", took, "threshold_ms", 30000.0);
		o->prov_attempt = 0;
		o->prov_container[0] = '\0';
		o->engines_at = 0;
		orch_engines_fetch(o); /* counts fresh, then the waiters are served */
	}
}

void orch_check_new_engine(struct orch *o)
{
	/* the new engine must be listed and answer get_status before use */
	for (size_t i = 0; i < o->nengines; i++) {
		struct orch_engine *e = &o->engines[i];
		if (strcmp(e->container_id, o->prov_container) != 0)
			continue;
		char url[400];
		snprintf(url, sizeof(url),
		         "http://%s:%u/server/api?api_version=3&method=get_status", e->host,
		         e->port);
		/* call_start prefixes the orchestrator base; use a direct call */
		struct call *c = calloc(1, sizeof(*c));
		if (!c)
			return;
		c->o = o;
		c->done = ready_done;
		snprintf(c->url, sizeof(c->url), "%s", url);
		struct http_fetch_req req = {.url = c->url, .max = BODY_MAX, .timeout_ms = 2000L};
		if (http_fetch_start(o->ce, &req, orch_call_done, c))
			o->prov_ready_check = true;
		else
			free(c);
		return;
	}
	orch_engines_fetch(o); /* not listed yet */
}

static void provision_done(struct orch *o, struct call *c, CURLcode res, long code)
{
	o->provisioning = false;
	if (res == CURLE_OK && code == 200 &&
	    orch_parse_provisioned(c->body, c->len, o->prov_container, sizeof(o->prov_container)) ==
	            0) {
		o->provisions_ok++;
		ALOG(ALOG_INFO, "provisioned", ALOG_S("container_id", o->prov_container),
		     ALOG_D("took_s", acexy_now() - o->prov_started));
		DEBUGLOG_PACK(o->env.dl, DEBUGLOG_PROVISIONING, "success", "{s:i,s:i,s:s,s:f}",
		              "attempt", (int)o->prov_attempt, "http_status", (int)code,
		              "container_id", o->prov_container, "took_ms",
		              (acexy_now() - o->prov_started) * 1000.0);
		if (!o->prov_container[0]) {
			orch_refuse_all(o, "provisioning answered without a container id",
			                DEFAULT_RETRY);
			return;
		}
		o->engines_at = 0;
		orch_engines_fetch(o);
		return;
	}
	o->provisions_failed++;
	/* 503/500 with detail {code, message, recovery_eta_seconds, can_retry,
	 * should_wait}, or a plain string in older versions */
	struct orch_prov_error pe;
	orch_parse_prov_error(c->body, c->len, &pe);
	const char *dcode = pe.code[0] ? pe.code : NULL;
	const char *msg = pe.message[0] ? pe.message : NULL;
	int eta = pe.eta;
	bool can_retry = pe.can_retry, should_wait = pe.should_wait;
	char why[400];
	snprintf(why, sizeof(why), "provisioning failed: %s%s%s",
	         res != CURLE_OK ? curl_easy_strerror(res) : (msg ? msg : "error"),
	         dcode ? " / " : "", dcode ? dcode : "");
	ALOG(ALOG_WARN, "provision_failed", ALOG_I("http_status", code),
	     ALOG_S("code", dcode ? dcode : ""), ALOG_S("message", msg ? msg : ""),
	     ALOG_I("eta", eta), ALOG_B("can_retry", can_retry),
	     ALOG_B("should_wait", should_wait));
	DEBUGLOG_PACK(o->env.dl, DEBUGLOG_PROVISIONING, "failure",
	              "{s:i,s:i,s:s,s:s,s:i,s:b,s:b,s:f}", "attempt", (int)o->prov_attempt,
	              "http_status", (int)code, "code", dcode ? dcode : "", "message",
	              res != CURLE_OK ? curl_easy_strerror(res) : (msg ? msg : ""), "eta_s", eta,
	              "can_retry", can_retry, "should_wait", should_wait, "took_ms",
	              (acexy_now() - o->prov_started) * 1000.0);
	o->last_eta = eta;
	double now = acexy_now();
	/* retry after the ETA when someone can still be served in time */
	double latest = 0;
	for (struct waiter *w = o->waiting; w; w = w->next)
		if (w->deadline > latest)
			latest = w->deadline;
	if ((can_retry || should_wait) && eta >= 0 && now + eta + 1 < latest) {
		o->prov_retry_at = now + (eta > 0 ? eta : 1);
		DEBUGLOG_PACK(o->env.dl, DEBUGLOG_PROVISIONING, "retry_scheduled", "{s:i,s:i,s:f}",
		              "attempt", (int)o->prov_attempt, "eta_s", eta, "wait_s",
		              o->prov_retry_at - now);
		return;
	}
	DEBUGLOG_PACK(o->env.dl, DEBUGLOG_PROVISIONING, "gave_up", "{s:i,s:i,s:s,s:i}", "attempt",
	              (int)o->prov_attempt, "http_status", (int)code, "message", why, "eta_s", eta);
	o->prov_attempt = 0;
	orch_refuse_all(o, why, eta > 0 ? eta : DEFAULT_RETRY);
}

void orch_provision_start(struct orch *o)
{
	o->prov_retry_at = 0;
	o->prov_started = acexy_now();
	char body[256];
	snprintf(body, sizeof(body), "{\"labels\":{\"acexy.proxy\":\"%s\"},\"env\":{}}",
	         o->env.proxy_id);
	unsigned nwait = 0;
	for (struct waiter *w = o->waiting; w; w = w->next)
		nwait++;
	o->prov_attempt++;
	ALOG(ALOG_INFO, "provisioning", ALOG_U("waiting", nwait),
	     ALOG_U("attempt", o->prov_attempt));
	DEBUGLOG_PACK(o->env.dl, DEBUGLOG_PROVISIONING, "attempt", "{s:i,s:i}", "attempt",
	              (int)o->prov_attempt, "waiting", (int)nwait);
	if (orch_call(o, "provision", "/provision/acestream", body, PROVISION_TIMEOUT_MS,
	              provision_done) == 0)
		o->provisioning = true;
	else
		orch_refuse_all(o, "cannot start provisioning", DEFAULT_RETRY);
}
