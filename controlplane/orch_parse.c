/* The orchestrator's answers, read tolerantly (CONTRACTS.md §2). Pure. */
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "controlplane/orch_pure.h"

static const char *str(json_t *o, const char *k)
{
	const char *v = json_string_value(json_object_get(o, k));
	return v ? v : "";
}

/* seconds from a JSON number, clamped to 0..86400 (garbage reads 0) */
static int seconds(json_t *v)
{
	if (!json_is_number(v))
		return 0;
	double d = json_number_value(v);
	if (!(d > 0)) /* also NaN */
		return 0;
	return d > 86400 ? 86400 : (int)d;
}

int orch_parse_engines(const char *body, size_t len, struct orch_engine **ret, size_t *ret_n)
{
	*ret = NULL;
	*ret_n = 0;
	json_error_t jerr;
	json_t *arr = json_loadb(body ? body : "", len, 0, &jerr);
	if (!json_is_array(arr)) {
		json_decref(arr);
		return -EINVAL;
	}
	size_t n = json_array_size(arr);
	struct orch_engine *e = calloc(n ? n : 1, sizeof(*e));
	if (!e) {
		json_decref(arr);
		return -ENOMEM;
	}
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		json_t *j = json_array_get(arr, i);
		const char *cid = json_string_value(json_object_get(j, "container_id"));
		const char *host = json_string_value(json_object_get(j, "host"));
		json_t *pj = json_object_get(j, "port");
		json_int_t port = json_is_integer(pj) ? json_integer_value(pj) : 0;
		if (!json_is_object(j) || !cid || !cid[0] || !host || !host[0] || port <= 0 ||
		    port > 65535 || strlen(cid) >= sizeof(e[k].container_id) ||
		    strlen(host) >= sizeof(e[k].host))
			continue; /* unusable record: skipped */
		snprintf(e[k].container_id, sizeof(e[k].container_id), "%s", cid);
		snprintf(e[k].host, sizeof(e[k].host), "%s", host);
		e[k].port = (unsigned)port;
		const char *h = str(j, "health_status");
		e[k].health = strcmp(h, "healthy") == 0 ? 0 : strcmp(h, "unhealthy") == 0 ? 2 : 1;
		e[k].forwarded = json_is_true(json_object_get(j, "forwarded"));
		e[k].last_usage =
		        orch_parse_time(json_string_value(json_object_get(j, "last_stream_usage")));
		json_t *st = json_object_get(j, "streams");
		e[k].orch_streams = json_is_array(st) ? (unsigned)json_array_size(st) : 0;
		k++;
	}
	json_decref(arr);
	*ret = e;
	*ret_n = k;
	return 0;
}

int orch_parse_status(const char *body, size_t len, struct orch_status_answer *ret)
{
	memset(ret, 0, sizeof(*ret));
	json_error_t jerr;
	json_t *j = json_loadb(body ? body : "", len, 0, &jerr);
	if (!json_is_object(j)) {
		json_decref(j);
		return -EINVAL;
	}
	const char *s = str(j, "status");
	snprintf(ret->status, sizeof(ret->status), "%s", s);
	/* an answer is reachable, whatever it says: "unavailable" is what a
	 * scaled-to-zero orchestrator says while no engine runs (it can
	 * provision one); only failed calls make it unreachable */
	ret->state = strcmp(s, "healthy") == 0 ? ORCH_HEALTHY : ORCH_DEGRADED;
	ret->unavailable = strcmp(s, "unavailable") == 0;
	json_t *p = json_object_get(j, "provisioning");
	ret->can_provision = !json_is_false(json_object_get(p, "can_provision"));
	json_t *d = json_object_get(p, "blocked_reason_details");
	const char *msg = str(d, "message");
	if (!msg[0])
		msg = str(p, "blocked_reason");
	snprintf(ret->block_code, sizeof(ret->block_code), "%s", str(d, "code"));
	snprintf(ret->block_msg, sizeof(ret->block_msg), "%s", msg);
	ret->block_eta = seconds(json_object_get(d, "recovery_eta_seconds"));
	ret->should_wait = json_is_true(json_object_get(d, "should_wait"));
	json_decref(j);
	return 0;
}

int orch_parse_provisioned(const char *body, size_t len, char *cid, size_t cap)
{
	json_error_t jerr;
	json_t *j = json_loadb(body ? body : "", len, 0, &jerr);
	cid[0] = '\0';
	if (!json_is_object(j)) {
		json_decref(j);
		return -EINVAL;
	}
	snprintf(cid, cap, "%s", str(j, "container_id"));
	json_decref(j);
	return 0;
}

void orch_parse_prov_error(const char *body, size_t len, struct orch_prov_error *ret)
{
	memset(ret, 0, sizeof(*ret));
	json_error_t jerr;
	json_t *j = body ? json_loadb(body, len, 0, &jerr) : NULL;
	json_t *d = json_object_get(j, "detail");
	snprintf(ret->code, sizeof(ret->code), "%s", str(d, "code"));
	snprintf(ret->message, sizeof(ret->message), "%s",
	         json_is_string(d) ? json_string_value(d) : str(d, "message"));
	ret->eta = seconds(json_object_get(d, "recovery_eta_seconds"));
	ret->can_retry = json_is_object(d) && json_is_true(json_object_get(d, "can_retry"));
	ret->should_wait = json_is_true(json_object_get(d, "should_wait"));
	json_decref(j);
}

const char *orch_state_name(enum orch_state s)
{
	switch (s) {
	case ORCH_HEALTHY:
		return "healthy";
	case ORCH_DEGRADED:
		return "degraded";
	case ORCH_UNREACHABLE:
		return "unreachable";
	default:
		return "unknown";
	}
}

double orch_parse_time(const char *s)
{
	struct tm tm;
	memset(&tm, 0, sizeof(tm));
	if (!s)
		return 0;
	int n = 0;
	if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
	           &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &n) != 6)
		return 0;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	double frac = 0, scale = 0.1;
	const char *p = s + n;
	if (*p == '.') {
		for (p++; *p >= '0' && *p <= '9'; p++, scale /= 10)
			frac += (*p - '0') * scale;
	}
	/* the offset: Z, +hh:mm, +hhmm or +hh (ISO 8601), nothing after it */
	int off = 0;
	if (*p == '+' || *p == '-') {
		int sign = *p == '+' ? 1 : -1;
		const char *q = p + 1;
		int d[4], nd = 0;
		while (nd < 4 && ((*q >= '0' && *q <= '9') || (nd == 2 && *q == ':'))) {
			if (*q != ':')
				d[nd++] = *q - '0';
			else if (q[1] < '0' || q[1] > '9')
				return 0;
			q++;
		}
		if ((nd != 2 && nd != 4) || *q != '\0')
			return 0;
		int hh = d[0] * 10 + d[1], mm = nd == 4 ? d[2] * 10 + d[3] : 0;
		if (hh > 23 || mm > 59)
			return 0;
		off = sign * (hh * 3600 + mm * 60);
	} else if (*p == 'Z') {
		if (p[1] != '\0')
			return 0;
	} else if (*p != '\0') {
		return 0;
	}
	return (double)timegm(&tm) + frac - off;
}

static int better(const struct orch_engine *a, const struct orch_engine *b)
{
	/* not suspect first; healthy before unknown before unhealthy; fewest
	 * streams; forwarded first; least recently used first */
	if (a->suspect != b->suspect)
		return !a->suspect;
	if (a->health != b->health)
		return a->health < b->health;
	unsigned la = a->orch_streams + a->own_leases, lb = b->orch_streams + b->own_leases;
	if (la != lb)
		return la < lb;
	if (a->forwarded != b->forwarded)
		return a->forwarded;
	return a->last_usage < b->last_usage;
}

int orch_select(const struct orch_engine *e, size_t n, unsigned max)
{
	int best = -1;
	for (size_t i = 0; i < n; i++) {
		if (e[i].orch_streams + e[i].own_leases >= max || e[i].avoid)
			continue;
		if (best < 0 || better(&e[i], &e[best]))
			best = (int)i;
	}
	return best;
}
