#include "dataplane/hls_playlist.h"

#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct out {
	char *p;
	size_t len, cap;
};

static int put(struct out *o, const char *s, size_t n)
{
	if (o->len + n + 1 > HLS_PLAYLIST_MAX)
		return -E2BIG;
	if (o->len + n + 1 > o->cap) {
		size_t cap = o->cap ? o->cap : 4096;
		while (cap < o->len + n + 1)
			cap *= 2;
		char *np = realloc(o->p, cap);
		if (!np)
			return -ENOMEM;
		o->p = np;
		o->cap = cap;
	}
	memcpy(o->p + o->len, s, n);
	o->len += n;
	o->p[o->len] = '\0';
	return 0;
}

int hls_resolve(const char *base, const char *ref, char *out, size_t cap)
{
	CURLU *u = curl_url();
	char *res = NULL;
	int rc = -EINVAL;
	if (u && curl_url_set(u, CURLUPART_URL, base, 0) == CURLUE_OK &&
	    curl_url_set(u, CURLUPART_URL, ref, 0) == CURLUE_OK &&
	    curl_url_get(u, CURLUPART_URL, &res, 0) == CURLUE_OK &&
	    (strncasecmp(res, "http://", 7) == 0 || strncasecmp(res, "https://", 8) == 0)) {
		if (strlen(res) < cap) {
			strcpy(out, res);
			rc = 0;
		}
	}
	curl_free(res);
	curl_url_cleanup(u);
	return rc;
}

void hls_url_ext(const char *url, char *out, size_t cap)
{
	out[0] = '\0';
	size_t end = strcspn(url, "?#");
	size_t i = end;
	while (i > 0 && url[i - 1] != '.' && url[i - 1] != '/')
		i--;
	if (i == 0 || url[i - 1] != '.')
		return;
	size_t n = end - i;
	if (n == 0 || n > 5 || n + 1 > cap)
		return;
	for (size_t k = 0; k < n; k++) {
		unsigned char c = (unsigned char)url[i + k];
		if (!isalnum(c)) {
			out[0] = '\0';
			return;
		}
		out[k] = (char)tolower(c);
	}
	out[n] = '\0';
}

static int map_uri(const char *base, const char *uri, size_t n, hls_map_fn map, void *ud,
                   char *repl, size_t cap, char *err, size_t errcap)
{
	char ref[HLS_URI_MAX + 1], abs[HLS_URI_MAX + 1];
	if (n == 0 || n > HLS_URI_MAX) {
		snprintf(err, errcap, "playlist URI %s", n ? "too long" : "empty");
		return -EINVAL;
	}
	memcpy(ref, uri, n);
	ref[n] = '\0';
	if (hls_resolve(base, ref, abs, sizeof(abs)) < 0) {
		snprintf(err, errcap, "playlist URI cannot be resolved to an http(s) URL");
		return -EINVAL;
	}
	if (map(ud, abs, repl, cap) < 0) {
		snprintf(err, errcap, "playlist URI could not be mapped");
		return -EINVAL;
	}
	return 0;
}

/* A tag line: copies it, replacing the value of a URI="…" attribute. */
static int tag_line(struct out *o, const char *line, size_t n, const char *base, hls_map_fn map,
                    void *ud, char *err, size_t errcap)
{
	size_t i = 0;
	int rc = 0;
	while (i < n) {
		/* an attribute name URI at the start or after ':' or ',' */
		bool at = (i == 0 || line[i - 1] == ':' || line[i - 1] == ',') && n - i >= 5 &&
		          memcmp(line + i, "URI=\"", 5) == 0;
		if (!at) {
			if ((rc = put(o, line + i, 1)) < 0)
				return rc;
			i++;
			continue;
		}
		const char *v = line + i + 5;
		const char *q = memchr(v, '"', n - (i + 5));
		if (!q) {
			snprintf(err, errcap, "unterminated URI attribute");
			return -EINVAL;
		}
		char repl[HLS_URI_MAX + 1];
		if ((rc = map_uri(base, v, (size_t)(q - v), map, ud, repl, sizeof(repl), err,
		                  errcap)) < 0)
			return rc;
		if ((rc = put(o, "URI=\"", 5)) < 0 || (rc = put(o, repl, strlen(repl))) < 0 ||
		    (rc = put(o, "\"", 1)) < 0)
			return rc;
		i = (size_t)(q - line) + 1;
	}
	return put(o, "\n", 1);
}

int hls_rewrite(const char *in, size_t len, const char *base_url, hls_map_fn map, void *ud,
                char **ret, size_t *ret_len, char *err, size_t errcap)
{
	*ret = NULL;
	*ret_len = 0;
	if (len > HLS_PLAYLIST_MAX) {
		snprintf(err, errcap, "playlist larger than %d bytes", HLS_PLAYLIST_MAX);
		return -E2BIG;
	}
	size_t skip = 0;
	if (len >= 3 && memcmp(in, "\xef\xbb\xbf", 3) == 0)
		skip = 3; /* UTF-8 BOM */
	if (len - skip < 7 || memcmp(in + skip, "#EXTM3U", 7) != 0) {
		snprintf(err, errcap, "not an HLS playlist (no #EXTM3U)");
		return -EINVAL;
	}
	struct out o = {0};
	int rc = 0;
	size_t pos = skip;
	while (pos < len && rc == 0) {
		const char *line = in + pos;
		const char *nl = memchr(line, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - line) : len - pos;
		pos += n + (nl ? 1 : 0);
		if (n > 0 && line[n - 1] == '\r')
			n--;
		if (memchr(line, '\0', n)) {
			snprintf(err, errcap, "playlist contains a NUL byte");
			rc = -EINVAL;
			break;
		}
		/* trim blanks at both ends of URI lines */
		size_t a = 0, b = n;
		while (a < b && (line[a] == ' ' || line[a] == '\t'))
			a++;
		while (b > a && (line[b - 1] == ' ' || line[b - 1] == '\t'))
			b--;
		if (a == b) {
			rc = put(&o, "\n", 1);
		} else if (line[a] == '#') {
			rc = b - a >= 4 && memcmp(line + a, "#EXT", 4) == 0
			             ? tag_line(&o, line + a, b - a, base_url, map, ud, err, errcap)
			             : (put(&o, line + a, b - a) < 0 ? -E2BIG : put(&o, "\n", 1));
		} else {
			char repl[HLS_URI_MAX + 1];
			rc = map_uri(base_url, line + a, b - a, map, ud, repl, sizeof(repl), err,
			             errcap);
			if (rc == 0 && (rc = put(&o, repl, strlen(repl))) == 0)
				rc = put(&o, "\n", 1);
		}
	}
	if (rc == -E2BIG)
		snprintf(err, errcap, "rewritten playlist larger than %d bytes", HLS_PLAYLIST_MAX);
	else if (rc == -ENOMEM)
		snprintf(err, errcap, "out of memory");
	if (rc < 0) {
		free(o.p);
		return rc;
	}
	if (!o.p && (rc = put(&o, "", 0)) < 0)
		return rc;
	*ret = o.p;
	*ret_len = o.len;
	return 0;
}
