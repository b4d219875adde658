#include "dataplane/query.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acexy/utf8.h"
#include "dataplane/hex.h"

struct param {
	const char *raw; /* "name=value" as sent, inside text */
	size_t raw_len;
	const char *name; /* decoded, inside arena */
	const char *value;
	bool drop; /* not forwarded: the proxy's own (token, format) or pid/sid */
};

struct viewer_query {
	struct param params[QUERY_MAX_PARAMS];
	size_t n;
	size_t key_idx;
	unsigned dropped_ids; /* the viewer's pid/sid parameters */
	const char *key_type;
	char *mux_key;
	char *text;  /* copy of the raw query */
	char *arena; /* decoded names and values */
};

static const char *const content_params[] = {"id", "content_id", "infohash", "url", "magnet"};
#define N_CONTENT_PARAMS (sizeof(content_params) / sizeof(content_params[0]))

int query_decode(const char *in, size_t len, char *out, size_t cap)
{
	if (cap == 0)
		return -ENOSPC;
	size_t o = 0;
	for (size_t i = 0; i < len; i++) {
		int c = (unsigned char)in[i];
		if (c == '+') {
			c = ' ';
		} else if (c == '%') {
			if (len - i < 3)
				return -EINVAL;
			int h = acexy_hexval((unsigned char)in[i + 1]);
			int l = acexy_hexval((unsigned char)in[i + 2]);
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
	out[o] = '\0';
	return 0;
}

bool query_is_infohash(const char *s)
{
	size_t i = 0;
	for (; s[i]; i++)
		if (i >= 40 || acexy_hexval((unsigned char)s[i]) < 0)
			return false;
	return i == 40;
}

void viewer_query_free(struct viewer_query *q)
{
	if (!q)
		return;
	free(q->mux_key);
	free(q);
}

/* Bytes kept as they are in the canonical encoding of the multiplex key;
 * everything else becomes %XX, so '&', '=' and '%' never appear raw in a
 * name or value. */
static bool canonical_plain(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '.' || c == '_' || c == '~' || c == ':' || c == '/';
}

static size_t canonical_len(const char *s)
{
	size_t n = 0;
	for (; *s; s++)
		n += canonical_plain((unsigned char)*s) ? 1 : 3;
	return n;
}

static char *canonical_put(char *o, const char *s, bool lower)
{
	static const char hex[] = "0123456789ABCDEF";
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (canonical_plain(c)) {
			*o++ = lower && c >= 'A' && c <= 'Z' ? (char)(c - 'A' + 'a') : (char)c;
		} else {
			*o++ = '%';
			*o++ = hex[c >> 4];
			*o++ = hex[c & 15];
		}
	}
	return o;
}

/* Whether a decoded parameter name reads as `want` (lowercase) to an
 * engine however lenient: ASCII case ignored, and whitespace, control and
 * non-ASCII bytes around it ignored ("PID", "pid%20", "%C2%A0sid"). */
static bool name_is(const char *name, const char *want)
{
	const unsigned char *b = (const unsigned char *)name;
	const unsigned char *e = b + strlen(name);
	while (b < e && (*b <= ' ' || *b >= 0x7f))
		b++;
	while (e > b && (e[-1] <= ' ' || e[-1] >= 0x7f))
		e--;
	size_t n = strlen(want);
	if ((size_t)(e - b) != n)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c =
		        b[i] >= 'A' && b[i] <= 'Z' ? (unsigned char)(b[i] - 'A' + 'a') : b[i];
		if (c != (unsigned char)want[i])
			return false;
	}
	return true;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int build_mux_key(struct viewer_query *q)
{
	/* each forwarded parameter as "name=value", canonical, then sorted */
	char *parts[QUERY_MAX_PARAMS];
	size_t np = 0, total = 0;
	int rc = 0;
	for (size_t i = 0; i < q->n; i++) {
		const struct param *p = &q->params[i];
		if (i == q->key_idx || p->drop)
			continue;
		size_t l = canonical_len(p->name) + 1 + canonical_len(p->value);
		char *s = malloc(l + 1);
		if (!s) {
			rc = -ENOMEM;
			goto free_parts;
		}
		char *o = canonical_put(s, p->name, false);
		*o++ = '=';
		*canonical_put(o, p->value, false) = '\0';
		parts[np++] = s;
		total += l + 1;
	}
	qsort(parts, np, sizeof(parts[0]), cmp_str);
	const char *key = q->params[q->key_idx].value;
	bool lower = strcmp(q->key_type, "infohash") == 0 && query_is_infohash(key);
	total += strlen(q->key_type) + 1 + canonical_len(key) + 1;
	q->mux_key = malloc(total);
	if (!q->mux_key) {
		rc = -ENOMEM;
		goto free_parts;
	}
	char *o = q->mux_key;
	memcpy(o, q->key_type, strlen(q->key_type));
	o += strlen(q->key_type);
	*o++ = ':';
	o = canonical_put(o, key, lower);
	for (size_t i = 0; i < np; i++) {
		*o++ = '&';
		size_t l = strlen(parts[i]);
		memcpy(o, parts[i], l);
		o += l;
	}
	*o = '\0';
free_parts:
	for (size_t i = 0; i < np; i++)
		free(parts[i]);
	return rc;
}

/* Bytes that cannot be forwarded inside a URL as they are. */
static bool forbidden_in_query(unsigned char c)
{
	return c <= ' ' || c == 0x7f || c == '#';
}

/* Adds the parameter text[p, pe) and decodes its name and value into the
 * arena at *a (decoded is never longer than encoded: the arena fits). */
static int add_param(struct viewer_query *q, const char *p, const char *pe, char **a, char *err,
                     size_t errcap)
{
	if (q->n >= QUERY_MAX_PARAMS) {
		snprintf(err, errcap, "too many query parameters (at most %d)", QUERY_MAX_PARAMS);
		return -EINVAL;
	}
	const char *eq = memchr(p, '=', (size_t)(pe - p));
	const char *vs = eq ? eq + 1 : pe;
	size_t nl = (size_t)((eq ? eq : pe) - p), vl = (size_t)(pe - vs);
	struct param *pr = &q->params[q->n];
	pr->raw = p;
	pr->raw_len = (size_t)(pe - p);
	pr->name = *a;
	if (query_decode(p, nl, *a, nl + 1) < 0)
		goto bad_encoding;
	*a += strlen(*a) + 1;
	pr->value = *a;
	if (query_decode(vs, vl, *a, vl + 1) < 0)
		goto bad_encoding;
	*a += strlen(*a) + 1;
	/* the viewer's pid/sid would make the engine treat two viewers as one
	 * player (or supersede another's session): the proxy's own goes */
	bool id = name_is(pr->name, "pid") || name_is(pr->name, "sid");
	pr->drop = id || name_is(pr->name, "token") || name_is(pr->name, "format");
	q->dropped_ids += id;
	q->n++;
	return 0;
bad_encoding:
	snprintf(err, errcap, "parameter '%.*s' is not valid percent-encoding",
	         (int)(nl > 40 ? 40 : nl), p);
	return -EINVAL;
}

static int split_params(struct viewer_query *q, size_t len, char *err, size_t errcap)
{
	const char *p = q->text, *end = q->text + len;
	char *a = q->arena;
	while (p < end) {
		const char *amp = memchr(p, '&', (size_t)(end - p));
		const char *pe = amp ? amp : end;
		/* "a=1&&b=2": empty pieces are nothing */
		if (pe > p) {
			int rc = add_param(q, p, pe, &a, err, errcap);
			if (rc < 0)
				return rc;
		}
		p = pe + 1;
	}
	return 0;
}

static int find_content_key(struct viewer_query *q, char *err, size_t errcap)
{
	const char *found[2] = {NULL, NULL};
	size_t nfound = 0;
	for (size_t i = 0; i < q->n; i++) {
		const char *name = q->params[i].name;
		for (size_t k = 0; k < N_CONTENT_PARAMS; k++) {
			if (strcmp(name, content_params[k]) != 0)
				continue;
			if (nfound < 2)
				found[nfound] = content_params[k];
			nfound++;
			q->key_idx = i;
			q->key_type = k <= 1 ? "content_id" : content_params[k];
		}
	}
	if (nfound == 0) {
		snprintf(err, errcap,
		         "missing content parameter: one of id, content_id, infohash, url, magnet");
		return -EINVAL;
	}
	if (nfound > 1) {
		snprintf(err, errcap, "exactly one content parameter is allowed, got %s and %s%s",
		         found[0], found[1], nfound > 2 ? " and more" : "");
		return -EINVAL;
	}
	if (q->params[q->key_idx].value[0] == '\0') {
		snprintf(err, errcap, "parameter '%s' is empty", q->params[q->key_idx].name);
		return -EINVAL;
	}
	/* the key travels to the controlplane and the orchestrator as text */
	if (!acexy_utf8_valid(q->params[q->key_idx].value)) {
		snprintf(err, errcap, "parameter '%s' is not valid UTF-8",
		         q->params[q->key_idx].name);
		return -EINVAL;
	}
	return 0;
}

int viewer_query_parse(const char *raw, size_t len, struct viewer_query **ret, char *err,
                       size_t errcap)
{
	if (len > QUERY_TEXT_MAX) {
		snprintf(err, errcap, "query string too long (at most %d bytes)", QUERY_TEXT_MAX);
		return -EINVAL;
	}
	for (size_t i = 0; i < len; i++) {
		if (forbidden_in_query((unsigned char)raw[i])) {
			snprintf(err, errcap, "invalid character in the query string");
			return -EINVAL;
		}
	}
	/* one block: the struct, the text, and the arena (every name and
	 * value decoded, NUL-terminated: at most len + 2 per parameter) */
	size_t arena_size = len + 2 * QUERY_MAX_PARAMS;
	struct viewer_query *q = malloc(sizeof(*q) + len + 1 + arena_size);
	if (!q) {
		snprintf(err, errcap, "out of memory");
		return -ENOMEM;
	}
	memset(q, 0, sizeof(*q));
	q->text = (char *)(q + 1);
	q->arena = q->text + len + 1;
	memcpy(q->text, raw, len);
	q->text[len] = '\0';
	int rc = split_params(q, len, err, errcap);
	if (rc == 0)
		rc = find_content_key(q, err, errcap);
	if (rc == 0) {
		rc = build_mux_key(q);
		if (rc < 0)
			snprintf(err, errcap, "out of memory");
	}
	if (rc < 0) {
		viewer_query_free(q);
		return rc;
	}
	*ret = q;
	return 0;
}

const char *viewer_query_key_type(const struct viewer_query *q)
{
	return q->key_type;
}

const char *viewer_query_key(const struct viewer_query *q)
{
	return q->params[q->key_idx].value;
}

const char *viewer_query_get(const struct viewer_query *q, const char *name)
{
	for (size_t i = 0; i < q->n; i++)
		if (strcmp(q->params[i].name, name) == 0)
			return q->params[i].value;
	return NULL;
}

const char *viewer_query_mux_key(const struct viewer_query *q)
{
	return q->mux_key;
}

unsigned viewer_query_dropped_ids(const struct viewer_query *q)
{
	return q->dropped_ids;
}

static bool unreserved(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '.' || c == '_' || c == '~';
}

int viewer_query_engine_query(const struct viewer_query *q, const char *pid, char *buf, size_t cap)
{
	if (!pid[0])
		return -EINVAL;
	for (const char *c = pid; *c; c++)
		if (!unreserved((unsigned char)*c))
			return -EINVAL;
	/* the content parameter first, then the rest in order */
	size_t order[QUERY_MAX_PARAMS], n = 0;
	order[n++] = q->key_idx;
	for (size_t i = 0; i < q->n; i++)
		if (i != q->key_idx && !q->params[i].drop)
			order[n++] = i;
	static const char tail[] = "format=json&pid=";
	size_t need = sizeof(tail) - 1 + strlen(pid) + 1;
	for (size_t i = 0; i < n; i++) {
		const struct param *p = &q->params[order[i]];
		need += p->raw_len + 1;
		for (size_t k = 0; k < p->raw_len; k++)
			need += p->raw[k] == ';' ? 2 : 0;
	}
	if (need > cap)
		return -ENOSPC;
	/* raw, but for ';': an engine that splits on it as well as on '&' (as
	 * older parsers did) would read "x=1;pid=2" as a pid of the viewer's;
	 * %3B means the same to every other reader */
	char *o = buf;
	for (size_t i = 0; i < n; i++) {
		const struct param *p = &q->params[order[i]];
		for (size_t k = 0; k < p->raw_len; k++) {
			if (p->raw[k] == ';') {
				memcpy(o, "%3B", 3);
				o += 3;
			} else {
				*o++ = p->raw[k];
			}
		}
		*o++ = '&';
	}
	memcpy(o, tail, sizeof(tail) - 1);
	o += sizeof(tail) - 1;
	memcpy(o, pid, strlen(pid) + 1);
	return 0;
}
