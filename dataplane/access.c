#include "dataplane/access.h"

#include <arpa/inet.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acexy/log.h"

/* ---- per-client connection counts (process-wide, not on the byte path) ---- */

#define BUCKETS 1024

struct ipcount {
	struct ipcount *next;
	char ip[64];
	unsigned n;
};

static pthread_mutex_t ip_mu = PTHREAD_MUTEX_INITIALIZER;
static struct ipcount *buckets[BUCKETS];

static unsigned bucket(const char *ip)
{
	uint32_t h = 2166136261u;
	for (const unsigned char *p = (const unsigned char *)ip; *p; p++)
		h = (h ^ *p) * 16777619u;
	return h % BUCKETS;
}

/* Counts one more connection of ip; returns the count, 0 on no memory. */
static unsigned ip_take(const char *ip)
{
	pthread_mutex_lock(&ip_mu);
	struct ipcount **pp = &buckets[bucket(ip)], *e = *pp;
	while (e && strcmp(e->ip, ip) != 0)
		e = e->next;
	if (!e && (e = calloc(1, sizeof(*e)))) {
		snprintf(e->ip, sizeof(e->ip), "%s", ip);
		e->next = *pp;
		*pp = e;
	}
	unsigned n = e ? ++e->n : 0;
	pthread_mutex_unlock(&ip_mu);
	return n;
}

static void ip_give(const char *ip)
{
	pthread_mutex_lock(&ip_mu);
	for (struct ipcount **pp = &buckets[bucket(ip)]; *pp; pp = &(*pp)->next) {
		struct ipcount *e = *pp;
		if (strcmp(e->ip, ip) != 0)
			continue;
		if (--e->n == 0) {
			*pp = e->next;
			free(e);
		}
		break;
	}
	pthread_mutex_unlock(&ip_mu);
}

/* ---- the check ---- */

static void ip_text(const struct sockaddr_storage *a, char *out, size_t cap)
{
	out[0] = '\0';
	if (a->ss_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)a)->sin_addr, out, (socklen_t)cap);
	else if (a->ss_family == AF_INET6)
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)a)->sin6_addr, out,
		          (socklen_t)cap);
}

static int per_ip_take(struct conn *c, const char *ip);

int access_check(struct conn *c, const struct http_request *req, const char *path)
{
	if (strcmp(path, "/livez") == 0 || strcmp(path, "/readyz") == 0 ||
	    strcmp(path, "/metrics") == 0)
		return 0;
	struct acexy_config *cfg = c->w->dp->cfg;
	struct sockaddr_storage client;
	access_client(&c->peer, http_request_header(req, "X-Forwarded-For"),
	              &cfg->v[ACEXY_S_TRUSTED_PROXIES].nets, &client);
	char ip[64];
	ip_text(&client, ip, sizeof(ip));
	const struct acexy_netlist *allow = &cfg->v[ACEXY_S_ALLOW_NETS].nets;
	if (allow->n && !acexy_netlist_contains(allow, (const struct sockaddr *)&client)) {
		c->close_after = true;
		ALOG(ALOG_WARN, "access_refused", ALOG_S("client", ip),
		     ALOG_S("why", "not in ACEXY_ALLOW_NETS"));
		conn_respond_error(c, 403, "your address is not allowed", 0);
		return -1;
	}
	const char *token = acexy_cfg_s(cfg, ACEXY_S_ACCESS_TOKEN);
	if (token[0] && strncmp(path, "/ace/", 5) == 0 && strncmp(path, "/ace/hls/", 9) != 0) {
		char given[512];
		bool have = false;
		const char *auth = http_request_header(req, "Authorization");
		if (auth && strncasecmp(auth, "Bearer ", 7) == 0) {
			snprintf(given, sizeof(given), "%s", auth + 7);
			have = true;
		} else if (access_query_token(http_request_query(req), given, sizeof(given)) &&
		           given[0]) {
			have = true;
		}
		if (!have) {
			c->close_after = true;
			ALOG(ALOG_INFO, "access_refused", ALOG_S("client", ip),
			     ALOG_S("why", "no token"));
			conn_respond(c, 401, "text/plain; charset=utf-8",
			             "WWW-Authenticate: Bearer\r\n",
			             "401 Unauthorized: a token is required\n", 38);
			return -1;
		}
		if (!access_token_equal(given, strlen(given), token)) {
			c->close_after = true;
			ALOG(ALOG_WARN, "access_refused", ALOG_S("client", ip),
			     ALOG_S("why", "wrong token"));
			conn_respond_error(c, 403, "wrong token", 0);
			return -1;
		}
	}
	/* (a connection from a trusted proxy is counted here, by the client it
	 * names; any other one was counted at accept, by its peer) */
	if (!c->ip_counted && per_ip_take(c, ip) < 0)
		return -1;
	return 0;
}

/* Counts the connection against ACEXY_MAX_CONNS_PER_IP as client ip;
 * beyond the cap answers 503 and returns -1. */
static int per_ip_take(struct conn *c, const char *ip)
{
	uint64_t cap = acexy_cfg_u(c->w->dp->cfg, ACEXY_S_MAX_CONNS_PER_IP);
	if (!cap)
		return 0;
	unsigned n = ip_take(ip);
	snprintf(c->client_ip, sizeof(c->client_ip), "%s", ip);
	c->ip_counted = n > 0;
	if (n <= cap)
		return 0;
	c->close_after = true;
	ALOG(ALOG_WARN, "access_refused", ALOG_S("client", ip),
	     ALOG_S("why", "ACEXY_MAX_CONNS_PER_IP reached"), ALOG_U("connections", n));
	conn_respond_error(c, 503, "too many connections from your address", 5);
	return -1;
}

void access_admit(struct conn *c)
{
	struct acexy_config *cfg = c->w->dp->cfg;
	const struct acexy_netlist *trusted = &cfg->v[ACEXY_S_TRUSTED_PROXIES].nets;
	if (!acexy_cfg_u(cfg, ACEXY_S_MAX_CONNS_PER_IP) ||
	    (trusted->n && acexy_netlist_contains(trusted, (const struct sockaddr *)&c->peer)))
		return;
	struct sockaddr_storage client;
	acexy_addr_canonical(&c->peer, &client);
	char ip[64];
	ip_text(&client, ip, sizeof(ip));
	per_ip_take(c, ip);
}

bool access_take_viewer(struct conn *c)
{
	if (c->viewer_slot)
		return true;
	struct dp *dp = c->w->dp;
	uint64_t max = acexy_cfg_u(dp->cfg, ACEXY_S_MAX_VIEWERS);
	if (atomic_fetch_add(&dp->stats.viewer_slots, 1) >= max) {
		atomic_fetch_sub(&dp->stats.viewer_slots, 1);
		return false;
	}
	c->viewer_slot = true;
	return true;
}

void access_give_viewer(struct conn *c)
{
	if (c->viewer_slot) {
		atomic_fetch_sub(&c->w->dp->stats.viewer_slots, 1);
		c->viewer_slot = false;
	}
}

void access_release(struct conn *c)
{
	if (c->ip_counted) {
		ip_give(c->client_ip);
		c->ip_counted = false;
	}
	if (c->w)
		access_give_viewer(c);
}
