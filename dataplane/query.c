#include "dataplane/query.h"

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define QUERY_TEXT_MAX 16384

struct param {
	const char *raw; /* "name=value" as sent */
	size_t raw_len;
	char *name; /* decoded */
	char *value;
};

struct viewer_query {
	char *text; /* copy of the raw query */
	struct param params[QUERY_MAX_PARAMS];
	size_t n;
	int key_idx;
	const char *key_type;
	char *mux_key;
};

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int query_decode(const char *in, size_t len, char *out, size_t cap)
{
	size_t o = 0;
	for (size_t i = 0; i < len; i++) {
		int c = (unsigned char)in[i];
		if (c == '+') {
			c = ' ';
		} else if (c == '%') {
			if (i + 2 >= len)
				return -EINVAL;
			int h = hexval((unsigned char)in[i + 1]),
			    l = hexval((unsigned char)in[i + 2]);
			if (h < 0 || l < 0)
				return -EINVAL;
			c = h * 16 + l;
			i += 2;
		}
		if (c == 0)
			return -EINVAL;
		if (o + 1 >= cap)
			return -ENOSPC;
		out[o++] = (char)c;
	}
	if (cap == 0)
		return -ENOSPC;
	out[o] = '\0';
	return 0;
}

void viewer_query_free(struct viewer_query *q)
{
	if (!q)
		return;
	for (size_t i = 0; i < q->n; i++) {
		free(q->params[i].name);
		free(q->params[i].value);
	}
	free(q->text);
	free(q->mux_key);
	free(q);
}

static const char *const content_params[] = {"id", "content_id", "infohash", "url", "magnet"};
/* parameters that change the bytes an engine sends (multiplex key) */
static bool is_local(const char *name)
{
	return strcmp(name, "token") == 0 || strcmp(name, "format") == 0;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int build_mux_key(struct viewer_query *q)
{
	const char *parts[QUERY_MAX_PARAMS];
	size_t np = 0, total = strlen(q->key_type) + strlen(q->params[q->key_idx].value) + 4;
	for (size_t i = 0; i < q->n; i++) {
		if ((int)i == q->key_idx || is_local(q->params[i].name))
			continue;
		parts[np++] = q->params[i].raw;
		total += q->params[i].raw_len + 2;
	}
	qsort(parts, np, sizeof(parts[0]), cmp_str);
	q->mux_key = malloc(total);
	if (!q->mux_key)
		return -ENOMEM;
	size_t o = (size_t)snprintf(q->mux_key, total, "%s:%s", q->key_type,
	                            q->params[q->key_idx].value);
	for (size_t i = 0; i < np; i++) {
		/* raw parts are not NUL-terminated inside the copy: find their end */
		size_t l = strcspn(parts[i], "&");
		o += (size_t)snprintf(q->mux_key + o, total - o, "&%.*s", (int)l, parts[i]);
	}
	return 0;
}

int viewer_query_parse(const char *raw, size_t len, struct viewer_query **ret, char *err,
                       size_t errcap)
{
	if (len > QUERY_TEXT_MAX) {
		snprintf(err, errcap, "query string too long");
		return -EINVAL;
	}
	struct viewer_query *q = calloc(1, sizeof(*q));
	if (!q || !(q->text = malloc(len + 1))) {
		free(q);
		snprintf(err, errcap, "out of memory");
		return -ENOMEM;
	}
	memcpy(q->text, raw, len);
	q->text[len] = '\0';
	q->key_idx = -1;
	const char *p = q->text, *end = q->text + len;
	int rc = 0;
	while (p < end) {
		const char *amp = memchr(p, '&', (size_t)(end - p));
		const char *pe = amp ? amp : end;
		if (pe == p) {
			p = pe + 1;
			continue; /* "a=1&&b=2" */
		}
		if (q->n >= QUERY_MAX_PARAMS) {
			snprintf(err, errcap, "too many query parameters (at most %d)",
			         QUERY_MAX_PARAMS);
			rc = -EINVAL;
			goto out;
		}
		const char *eq = memchr(p, '=', (size_t)(pe - p));
		const char *ne = eq ? eq : pe;
		struct param *pr = &q->params[q->n];
		pr->raw = p;
		pr->raw_len = (size_t)(pe - p);
		size_t nl = (size_t)(ne - p), vl = eq ? (size_t)(pe - eq - 1) : 0;
		pr->name = malloc(nl + 1);
		pr->value = malloc(vl + 1);
		q->n++;
		if (!pr->name || !pr->value) {
			snprintf(err, errcap, "out of memory");
			rc = -ENOMEM;
			goto out;
		}
		if (query_decode(p, nl, pr->name, nl + 1) < 0 ||
		    query_decode(eq ? eq + 1 : pe, vl, pr->value, vl + 1) < 0) {
			snprintf(err, errcap, "parameter '%.*s' is not valid percent-encoding",
			         (int)(nl > 40 ? 40 : nl), p);
			rc = -EINVAL;
			goto out;
		}
		p = pe + (amp ? 1 : 0);
		if (!amp)
			break;
	}
	const char *found[5];
	size_t nfound = 0;
	for (size_t i = 0; i < q->n; i++) {
		const char *name = q->params[i].name;
		if (strcmp(name, "pid") == 0 || strcmp(name, "sid") == 0) {
			snprintf(err, errcap,
			         "parameter '%s' is not allowed: the proxy gives every viewer its "
			         "own "
			         "pid",
			         name);
			rc = -EINVAL;
			goto out;
		}
		for (size_t k = 0; k < 5; k++) {
			if (strcmp(name, content_params[k]) != 0)
				continue;
			if (nfound < 5)
				found[nfound] = content_params[k];
			nfound++;
			q->key_idx = (int)i;
			q->key_type = k <= 1 ? "content_id" : content_params[k];
		}
	}
	if (nfound == 0) {
		snprintf(err, errcap,
		         "missing content parameter: one of id, content_id, infohash, url, magnet");
		rc = -EINVAL;
		goto out;
	}
	if (nfound > 1) {
		snprintf(err, errcap, "exactly one content parameter is allowed, got %s and %s%s",
		         found[0], found[1], nfound > 2 ? " and more" : "");
		rc = -EINVAL;
		goto out;
	}
	if (q->params[q->key_idx].value[0] == '\0') {
		snprintf(err, errcap, "parameter '%s' is empty", q->params[q->key_idx].name);
		rc = -EINVAL;
		goto out;
	}
	rc = build_mux_key(q);
	if (rc < 0) {
		snprintf(err, errcap, "out of memory");
		goto out;
	}
	*ret = q;
	return 0;
out:
	viewer_query_free(q);
	return rc;
}

const char *viewer_query_key_type(const struct viewer_query *q)
{
	return q->key_type;
}

const char *viewer_query_key(const struct viewer_query *q)
{
	return q->params[q->key_idx].value;
}

const char *viewer_query_mux_key(const struct viewer_query *q)
{
	return q->mux_key;
}

int viewer_query_engine_query(const struct viewer_query *q, const char *pid, char *buf, size_t cap)
{
	size_t o = 0;
	for (size_t i = 0; i < q->n; i++) {
		if (is_local(q->params[i].name))
			continue;
		int n = snprintf(buf + o, cap - o, "%s%.*s", o ? "&" : "",
		                 (int)q->params[i].raw_len, q->params[i].raw);
		if (n < 0 || (size_t)n >= cap - o)
			return -ENOSPC;
		o += (size_t)n;
	}
	int n = snprintf(buf + o, cap - o, "%sformat=json&pid=%s", o ? "&" : "", pid);
	if (n < 0 || (size_t)n >= cap - o)
		return -ENOSPC;
	return 0;
}
