#include "dataplane/m3u_list.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "acexy/utf8.h"

struct m3u_entry {
	size_t pre_off, pre_len; /* the '#' lines before the location, each ending in LF */
	size_t url_off, url_len; /* the location, trimmed, no line end */
	enum m3u_kind kind;
	bool has_url; /* false: '#' lines after the last location of a source */
	char id[41];
};

struct m3u_list {
	size_t mem_cap;
	char *head; /* the #EXTM3U line's attributes as written (" url-tvg=\"…\"") */
	size_t head_len;
	char *text; /* every kept line, entries' spans point into it */
	size_t text_len, text_cap;
	struct m3u_entry *e;
	size_t n, ecap;
	size_t nloc; /* entries with a location */
};

static size_t list_memory(const struct m3u_list *m, size_t text_cap, size_t ecap, size_t head)
{
	(void)m;
	return sizeof(*m) + text_cap + ecap * sizeof(struct m3u_entry) + head;
}

size_t m3u_list_memory(const struct m3u_list *m)
{
	return m ? list_memory(m, m->text_cap, m->ecap, m->head_len + 1) : 0;
}

size_t m3u_list_entries(const struct m3u_list *m)
{
	return m ? m->nloc : 0;
}

int m3u_list_new(size_t mem_cap, struct m3u_list **ret)
{
	if (mem_cap > M3U_MEM_MAX || mem_cap < sizeof(struct m3u_list))
		return -EINVAL;
	struct m3u_list *m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->mem_cap = mem_cap;
	*ret = m;
	return 0;
}

void m3u_list_free(struct m3u_list *m)
{
	if (!m)
		return;
	free(m->head);
	free(m->text);
	free(m->e);
	free(m);
}

static void list_clear(struct m3u_list *m)
{
	free(m->head);
	free(m->text);
	free(m->e);
	size_t cap = m->mem_cap;
	memset(m, 0, sizeof(*m));
	m->mem_cap = cap;
}

/* ---- growth within the cap ---- */

static int text_reserve(struct m3u_list *m, size_t more)
{
	if (m->text_cap - m->text_len >= more)
		return 0;
	size_t want = m->text_len + more;
	size_t ncap = m->text_cap ? m->text_cap : 4096;
	while (ncap < want)
		ncap *= 2;
	if (list_memory(m, ncap, m->ecap, m->head_len + 1) > m->mem_cap) {
		ncap = want; /* the exact size may still fit */
		if (list_memory(m, ncap, m->ecap, m->head_len + 1) > m->mem_cap)
			return -E2BIG;
	}
	char *p = realloc(m->text, ncap);
	if (!p)
		return -ENOMEM;
	m->text = p;
	m->text_cap = ncap;
	return 0;
}

static int entry_reserve(struct m3u_list *m)
{
	if (m->n < m->ecap)
		return 0;
	size_t ncap = m->ecap ? m->ecap * 2 : 64;
	if (list_memory(m, m->text_cap, ncap, m->head_len + 1) > m->mem_cap) {
		ncap = m->ecap + 1;
		if (list_memory(m, m->text_cap, ncap, m->head_len + 1) > m->mem_cap)
			return -E2BIG;
	}
	struct m3u_entry *p = realloc(m->e, ncap * sizeof(*p));
	if (!p)
		return -ENOMEM;
	m->e = p;
	m->ecap = ncap;
	return 0;
}

/* ---- UTF-8 ---- */

/* Appends a line (valid UTF-8 kept, other bytes as U+FFFD) and, when lf, a
 * line feed. */
static int text_append_line(struct m3u_list *m, const char *s, size_t n, bool lf)
{
	int rc = text_reserve(m, n * 3 + 1);
	if (rc < 0)
		return rc;
	const unsigned char *u = (const unsigned char *)s;
	char *o = m->text + m->text_len;
	size_t i = 0;
	while (i < n) {
		size_t l = acexy_utf8_len(u + i, n - i);
		if (l == 0) {
			memcpy(o, "\xef\xbf\xbd", 3);
			o += 3;
			i++;
			continue;
		}
		memcpy(o, u + i, l);
		o += l;
		i += l;
	}
	if ((size_t)(o - (m->text + m->text_len)) > M3U_LINE_MAX)
		return -EMSGSIZE; /* U+FFFD made it longer than a line may be */
	if (lf)
		*o++ = '\n';
	m->text_len = (size_t)(o - m->text);
	return 0;
}

/* ---- header attributes: name="value" or name=value, blank-separated ---- */

struct attr {
	const char *name;
	size_t name_len;
	const char *raw; /* the whole attribute as written */
	size_t raw_len;
};

static bool attr_next(const char *s, size_t len, size_t *pos, struct attr *a)
{
	size_t i = *pos;
	while (i < len && (s[i] == ' ' || s[i] == '\t'))
		i++;
	if (i >= len)
		return false;
	size_t start = i;
	while (i < len && s[i] != '=' && s[i] != ' ' && s[i] != '\t')
		i++;
	a->name = s + start;
	a->name_len = i - start;
	if (i < len && s[i] == '=') {
		i++;
		if (i < len && s[i] == '"') {
			i++;
			while (i < len && s[i] != '"')
				i++;
			if (i < len)
				i++;
		} else {
			while (i < len && s[i] != ' ' && s[i] != '\t')
				i++;
		}
	}
	a->raw = s + start;
	a->raw_len = i - start;
	*pos = i;
	return true;
}

/* Whether the header names want's attribute; *count: how many it has. */
static bool head_has(const char *head, size_t len, const struct attr *want, unsigned *count)
{
	size_t pos = 0;
	struct attr a;
	unsigned n = 0;
	while (attr_next(head, len, &pos, &a)) {
		n++;
		if (a.name_len == want->name_len && a.name_len &&
		    strncasecmp(a.name, want->name, a.name_len) == 0)
			return true;
	}
	if (count)
		*count = n;
	return false;
}

/* Adds the attributes of `attrs` that the header lacks, up to
 * M3U_HEAD_ATTRS and M3U_LINE_MAX bytes (the rest is ignored: a header
 * names a guide or two, not thousands of things). The new header is built
 * before the old one goes, so a failure leaves it as it was. */
static int head_merge(struct m3u_list *m, const char *attrs, size_t len)
{
	size_t pos = 0;
	struct attr a;
	char *h = NULL;
	size_t hl = m->head_len;
	unsigned scanned = 0;
	while (attr_next(attrs, len, &pos, &a) && scanned++ < 4 * M3U_HEAD_ATTRS) {
		unsigned count = 0;
		const char *cur = h ? h : m->head;
		if (!a.name_len || head_has(cur, hl, &a, &count) || count >= M3U_HEAD_ATTRS)
			continue;
		size_t room = 1 + a.raw_len * 3;
		if (hl + room > M3U_LINE_MAX - 8)
			continue;
		if (!h) {
			h = malloc(M3U_LINE_MAX);
			if (!h)
				return -ENOMEM;
			if (hl)
				memcpy(h, m->head, hl);
		}
		h[hl++] = ' ';
		const unsigned char *u = (const unsigned char *)a.raw;
		for (size_t i = 0; i < a.raw_len;) {
			size_t l = acexy_utf8_len(u + i, a.raw_len - i);
			if (l == 0) {
				memcpy(h + hl, "\xef\xbf\xbd", 3);
				hl += 3;
				i++;
			} else {
				memcpy(h + hl, u + i, l);
				hl += l;
				i += l;
			}
		}
	}
	if (!h)
		return 0;
	if (list_memory(m, m->text_cap, m->ecap, hl + 1) > m->mem_cap) {
		free(h);
		return -E2BIG;
	}
	h[hl] = '\0';
	char *shrunk = realloc(h, hl + 1);
	free(m->head);
	m->head = shrunk ? shrunk : h;
	m->head_len = hl;
	return 0;
}

/* ---- AceStream locations ---- */

static bool is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static bool hex40(const char *s, size_t len, char id[41])
{
	if (len != 40)
		return false;
	for (size_t i = 0; i < 40; i++) {
		if (!is_hex(s[i]))
			return false;
		id[i] = (char)(s[i] >= 'A' && s[i] <= 'F' ? s[i] - 'A' + 'a' : s[i]);
	}
	id[40] = '\0';
	return true;
}

static bool prefix_ci(const char *s, size_t len, const char *p)
{
	size_t pl = strlen(p);
	return len >= pl && strncasecmp(s, p, pl) == 0;
}

enum m3u_kind m3u_ace_ref(const char *url, size_t len, char id[41])
{
	size_t skip = 0;
	if (prefix_ci(url, len, "acestream://"))
		skip = 12;
	else if (prefix_ci(url, len, "ace://"))
		skip = 6;
	if (skip) {
		size_t end = skip;
		while (end < len && url[end] != '/' && url[end] != '?' && url[end] != '#')
			end++;
		return hex40(url + skip, end - skip, id) ? M3U_ACE_ID : M3U_OTHER;
	}
	if (prefix_ci(url, len, "http://"))
		skip = 7;
	else if (prefix_ci(url, len, "https://"))
		skip = 8;
	else
		return M3U_OTHER;
	const char *q = memchr(url, '?', len);
	const char *hash = memchr(url, '#', len);
	if (!q || (hash && hash < q))
		return M3U_OTHER;
	const char *path = memchr(url + skip, '/', (size_t)(q - url) - skip);
	static const char tail[] = "/ace/getstream";
	size_t tl = sizeof(tail) - 1;
	if (!path || (size_t)(q - path) < tl || memcmp(q - tl, tail, tl) != 0)
		return M3U_OTHER;
	const char *p = q + 1, *end = hash ? hash : url + len;
	while (p < end) {
		const char *amp = memchr(p, '&', (size_t)(end - p));
		const char *pe = amp ? amp : end;
		const char *eq = memchr(p, '=', (size_t)(pe - p));
		if (eq) {
			size_t nl = (size_t)(eq - p);
			enum m3u_kind k = M3U_OTHER;
			if ((nl == 2 && memcmp(p, "id", 2) == 0) ||
			    (nl == 10 && memcmp(p, "content_id", 10) == 0))
				k = M3U_ACE_ID;
			else if (nl == 8 && memcmp(p, "infohash", 8) == 0)
				k = M3U_ACE_HASH;
			if (k != M3U_OTHER)
				return hex40(eq + 1, (size_t)(pe - eq - 1), id) ? k : M3U_OTHER;
		}
		p = pe + 1;
	}
	return M3U_OTHER;
}

/* ---- parsing ---- */

static void seterr(char *err, size_t cap, const char *what, size_t line)
{
	if (!cap)
		return;
	if (line)
		snprintf(err, cap, "%s (line %zu)", what, line);
	else
		snprintf(err, cap, "%s", what);
}

static int parse_fail(struct m3u_list *m, int rc, char *err, size_t errcap, size_t line)
{
	list_clear(m);
	if (rc == -EMSGSIZE) {
		seterr(err, errcap, "malformed playlist: line too long", line);
		return -EINVAL;
	}
	seterr(err, errcap, rc == -E2BIG ? "playlist larger than its memory cap" : "out of memory",
	       line);
	return rc;
}

int m3u_list_parse(struct m3u_list *m, const char *in, size_t len, char *err, size_t errcap)
{
	if (m->n || m->text_len || m->head) {
		seterr(err, errcap, "parse needs an empty list", 0);
		return -EINVAL;
	}
	if (memchr(in, '\0', len)) {
		seterr(err, errcap, "not a playlist: NUL byte", 0);
		return -EINVAL;
	}
	size_t pos = 0, lineno = 0;
	if (len >= 3 && memcmp(in, "\xef\xbb\xbf", 3) == 0)
		pos = 3;
	bool seen_head = false;
	size_t pre_off = 0;
	bool pre_open = false;
	int rc;
	while (pos < len) {
		const char *ls = in + pos;
		size_t rest = len - pos, ll = 0;
		while (ll < rest && ls[ll] != '\n' && ls[ll] != '\r')
			ll++;
		pos += ll;
		if (pos < len && in[pos] == '\r') {
			pos++;
			if (pos < len && in[pos] == '\n')
				pos++;
		} else if (pos < len && in[pos] == '\n') {
			pos++;
		}
		lineno++;
		if (ll > M3U_LINE_MAX) {
			list_clear(m);
			seterr(err, errcap, "malformed playlist: line too long", lineno);
			return -EINVAL;
		}
		/* trim blanks */
		size_t a = 0, b = ll;
		while (a < b && (ls[a] == ' ' || ls[a] == '\t'))
			a++;
		while (b > a && (ls[b - 1] == ' ' || ls[b - 1] == '\t'))
			b--;
		if (a == b)
			continue;
		const char *t = ls + a;
		size_t tl = b - a;
		bool is_head = tl >= 7 && strncasecmp(t, "#EXTM3U", 7) == 0 &&
		               (tl == 7 || t[7] == ' ' || t[7] == '\t');
		if (!seen_head) {
			if (!is_head) {
				list_clear(m);
				seterr(err, errcap, "not an M3U playlist: no #EXTM3U first line",
				       lineno);
				return -EINVAL;
			}
			seen_head = true;
		}
		if (is_head) {
			if ((rc = head_merge(m, t + 7, tl - 7)) < 0)
				return parse_fail(m, rc, err, errcap, lineno);
			continue;
		}
		if (t[0] == '#') {
			if (!pre_open) {
				pre_off = m->text_len;
				pre_open = true;
			}
			if ((rc = text_append_line(m, t, tl, true)) < 0)
				return parse_fail(m, rc, err, errcap, lineno);
			continue;
		}
		if ((rc = entry_reserve(m)) < 0)
			return parse_fail(m, rc, err, errcap, lineno);
		struct m3u_entry *e = &m->e[m->n];
		e->pre_off = pre_open ? pre_off : m->text_len;
		e->pre_len = pre_open ? m->text_len - pre_off : 0;
		e->url_off = m->text_len;
		if ((rc = text_append_line(m, t, tl, false)) < 0)
			return parse_fail(m, rc, err, errcap, lineno);
		e->url_len = m->text_len - e->url_off;
		e->has_url = true;
		e->kind = m3u_ace_ref(m->text + e->url_off, e->url_len, e->id);
		if (e->kind == M3U_OTHER)
			e->id[0] = '\0';
		m->n++;
		m->nloc++;
		pre_open = false;
	}
	if (!seen_head) {
		list_clear(m);
		seterr(err, errcap, "not an M3U playlist: empty", 0);
		return -EINVAL;
	}
	if (pre_open) {
		if ((rc = entry_reserve(m)) < 0)
			return parse_fail(m, rc, err, errcap, lineno);
		m->e[m->n++] = (struct m3u_entry){.pre_off = pre_off,
		                                  .pre_len = m->text_len - pre_off,
		                                  .url_off = m->text_len,
		                                  .kind = M3U_OTHER};
	}
	return 0;
}

/* ---- merging ---- */

static uint32_t key_hash(enum m3u_kind k, const char *id)
{
	uint32_t h = 2166136261u ^ (uint32_t)k;
	for (const unsigned char *p = (const unsigned char *)id; *p; p++)
		h = (h ^ *p) * 16777619u;
	return h;
}

/* An index of dst's AceStream entries: open addressing, entry index + 1. */
struct key_set {
	size_t *slot;
	size_t mask;
};

static bool set_find_or_add(struct key_set *ks, const struct m3u_entry *all, size_t idx,
                            const struct m3u_entry *probe, bool add)
{
	size_t i = key_hash(probe->kind, probe->id) & ks->mask;
	for (;;) {
		size_t v = ks->slot[i];
		if (!v) {
			if (add)
				ks->slot[i] = idx + 1;
			return false;
		}
		const struct m3u_entry *e = &all[v - 1];
		if (e->kind == probe->kind && strcmp(e->id, probe->id) == 0)
			return true;
		i = (i + 1) & ks->mask;
	}
}

/* An entry's text: its '#' lines then its location, one span. */
static size_t entry_span(const struct m3u_entry *e)
{
	return e->url_off + e->url_len - e->pre_off;
}

int m3u_list_merge(struct m3u_list *dst, const struct m3u_list *src)
{
	size_t sz = 16;
	while (sz < (dst->n + 1) * 2)
		sz *= 2;
	size_t set_bytes = sz * sizeof(size_t);
	if (list_memory(dst, dst->text_cap, dst->ecap, dst->head_len + 1) + set_bytes >
	    dst->mem_cap)
		return -E2BIG;
	struct key_set ks = {.slot = calloc(sz, sizeof(size_t)), .mask = sz - 1};
	if (!ks.slot)
		return -ENOMEM;
	for (size_t i = 0; i < dst->n; i++)
		if (dst->e[i].kind != M3U_OTHER)
			set_find_or_add(&ks, dst->e, i, &dst->e[i], true);
	/* what is kept, so the memory is known before anything changes */
	size_t keep = 0, text = 0;
	for (size_t i = 0; i < src->n; i++) {
		const struct m3u_entry *se = &src->e[i];
		if (se->kind != M3U_OTHER && set_find_or_add(&ks, dst->e, 0, se, false))
			continue;
		keep++;
		text += entry_span(se);
	}
	int rc = 0;
	size_t ecap_need = dst->n + keep > dst->ecap ? dst->n + keep : dst->ecap;
	size_t tcap_need =
	        dst->text_len + text > dst->text_cap ? dst->text_len + text : dst->text_cap;
	if (list_memory(dst, tcap_need, ecap_need, dst->head_len + 1 + src->head_len + 1) +
	            set_bytes >
	    dst->mem_cap) {
		rc = -E2BIG;
		goto free_slots;
	}
	if (tcap_need > dst->text_cap) {
		char *p = realloc(dst->text, tcap_need);
		if (!p) {
			rc = -ENOMEM;
			goto free_slots;
		}
		dst->text = p;
		dst->text_cap = tcap_need;
	}
	if (ecap_need > dst->ecap) {
		struct m3u_entry *p = realloc(dst->e, ecap_need * sizeof(*p));
		if (!p) {
			rc = -ENOMEM;
			goto free_slots;
		}
		dst->e = p;
		dst->ecap = ecap_need;
	}
	if (src->head_len && (rc = head_merge(dst, src->head, src->head_len)) < 0)
		goto free_slots;
	for (size_t i = 0; i < src->n; i++) {
		const struct m3u_entry *se = &src->e[i];
		if (se->kind != M3U_OTHER && set_find_or_add(&ks, dst->e, 0, se, false))
			continue;
		struct m3u_entry *de = &dst->e[dst->n];
		size_t span = entry_span(se);
		*de = *se;
		de->pre_off = dst->text_len;
		de->url_off = dst->text_len + (se->url_off - se->pre_off);
		memcpy(dst->text + dst->text_len, src->text + se->pre_off, span);
		dst->text_len += span;
		dst->n++;
		dst->nloc += se->has_url;
	}
free_slots:
	free(ks.slot);
	return rc;
}

/* ---- writing ---- */

static bool unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '.' || c == '_' || c == '~';
}

int m3u_list_write(const struct m3u_list *m, const char *base, const char *token, char **ret,
                   size_t *ret_len)
{
	char tok[3 * 512 + 16] = "";
	size_t tokl = 0;
	if (token && token[0]) {
		static const char hx[] = "0123456789ABCDEF";
		tokl = (size_t)snprintf(tok, sizeof(tok), "&token=");
		for (const unsigned char *p = (const unsigned char *)token; *p; p++) {
			if (tokl + 4 >= sizeof(tok))
				return -E2BIG;
			if (unreserved(*p)) {
				tok[tokl++] = (char)*p;
			} else {
				tok[tokl++] = '%';
				tok[tokl++] = hx[*p >> 4];
				tok[tokl++] = hx[*p & 15];
			}
		}
		tok[tokl] = '\0';
	}
	size_t bl = strlen(base);
	static const char gs[] = "/ace/getstream?";
	size_t ace_len = bl + sizeof(gs) - 1 + 40 + tokl; /* + "id=" or "infohash=" */
	size_t total = 7 + m->head_len + 1 + 1;
	for (size_t i = 0; i < m->n; i++) {
		const struct m3u_entry *e = &m->e[i];
		total += e->pre_len + 1;
		if (!e->has_url)
			continue;
		if (e->kind == M3U_ACE_ID)
			total += ace_len + 3;
		else if (e->kind == M3U_ACE_HASH)
			total += ace_len + 9;
		else
			total += e->url_len;
	}
	char *out = malloc(total);
	if (!out)
		return -ENOMEM;
	char *o = out;
	memcpy(o, "#EXTM3U", 7);
	o += 7;
	if (m->head_len) {
		memcpy(o, m->head, m->head_len);
		o += m->head_len;
	}
	*o++ = '\n';
	for (size_t i = 0; i < m->n; i++) {
		const struct m3u_entry *e = &m->e[i];
		memcpy(o, m->text + e->pre_off, e->pre_len);
		o += e->pre_len;
		if (!e->has_url)
			continue;
		if (e->kind == M3U_OTHER) {
			memcpy(o, m->text + e->url_off, e->url_len);
			o += e->url_len;
		} else {
			memcpy(o, base, bl);
			o += bl;
			memcpy(o, gs, sizeof(gs) - 1);
			o += sizeof(gs) - 1;
			const char *k = e->kind == M3U_ACE_ID ? "id=" : "infohash=";
			memcpy(o, k, strlen(k));
			o += strlen(k);
			memcpy(o, e->id, 40);
			o += 40;
			memcpy(o, tok, tokl);
			o += tokl;
		}
		*o++ = '\n';
	}
	*o = '\0';
	*ret = out;
	*ret_len = (size_t)(o - out);
	return 0;
}
