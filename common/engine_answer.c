#include "acexy/engine_answer.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* An engine's message, made one short line: control characters (a newline
 * would split a log line or a header) become spaces. */
static void one_line(char *out, size_t cap, const char *prefix, const char *text, size_t max)
{
	int n = snprintf(out, cap, "%s%.*s", prefix, (int)max, text);
	if (n < 0 || cap == 0)
		return;
	for (char *c = out; *c; c++)
		if ((unsigned char)*c < ' ' || *c == 0x7f)
			*c = ' ';
}

int engine_url_split(const char *url, struct engine_url *ret)
{
	struct engine_url u;
	memset(&u, 0, sizeof(u));
	for (const char *c = url; *c; c++)
		if ((unsigned char)*c <= ' ' || *c == 0x7f)
			return -EINVAL;
	const char *authority;
	if (strncasecmp(url, "http://", 7) == 0) {
		authority = url + 7;
		u.port = 80;
	} else if (strncasecmp(url, "https://", 8) == 0) {
		authority = url + 8;
		u.https = true;
		u.port = 443;
	} else {
		return -EINVAL;
	}
	size_t alen = strcspn(authority, "/?#");
	const char *rest = authority + alen;
	if (memchr(authority, '@', alen))
		return -EINVAL; /* userinfo: never sent by an engine, easily misread */
	/* host, then an optional :port (an IPv6 literal is bracketed) */
	size_t hlen;
	if (authority[0] == '[') {
		const char *close = memchr(authority, ']', alen);
		if (!close)
			return -EINVAL;
		hlen = (size_t)(close - authority) + 1;
	} else {
		const char *colon = memchr(authority, ':', alen);
		hlen = colon ? (size_t)(colon - authority) : alen;
	}
	if (hlen == 0 || (authority[0] == '[' && hlen == 2))
		return -EINVAL;
	if (hlen >= sizeof(u.host))
		return -E2BIG;
	memcpy(u.host, authority, hlen);
	if (hlen < alen) {
		if (authority[hlen] != ':')
			return -EINVAL;
		const char *p = authority + hlen + 1, *end = authority + alen;
		unsigned long port = 0;
		if (p == end)
			return -EINVAL;
		for (; p < end; p++) {
			if (*p < '0' || *p > '9')
				return -EINVAL;
			port = port * 10 + (unsigned long)(*p - '0');
			if (port > 65535)
				return -EINVAL;
		}
		if (port == 0)
			return -EINVAL;
		u.port = (uint16_t)port;
	}
	size_t plen = strcspn(rest, "#");
	size_t lead = rest[0] == '/' ? 0 : 1; /* "http://h" or "http://h?q" */
	if (lead + plen >= sizeof(u.path))
		return -E2BIG;
	u.path[0] = '/';
	memcpy(u.path + lead, rest, plen);
	*ret = u;
	return 0;
}

/* Copies a string member: absent or null is "" (or -ENOENT if required);
 * another type, an embedded NUL, or too long for the field is an error. */
static int copy_str(json_t *obj, const char *key, char *out, size_t cap, bool required)
{
	json_t *v = json_object_get(obj, key);
	if (!v || json_is_null(v)) {
		out[0] = '\0';
		return required ? -ENOENT : 0;
	}
	if (!json_is_string(v))
		return -EINVAL;
	size_t l = json_string_length(v);
	if (l >= cap)
		return -E2BIG;
	if (memchr(json_string_value(v), '\0', l))
		return -EINVAL;
	memcpy(out, json_string_value(v), l + 1);
	return 0;
}

/* is_live and is_encrypted are 0|1; accept booleans and "1"/"true" too. */
static bool truthy(json_t *v)
{
	if (json_is_integer(v))
		return json_integer_value(v) != 0;
	if (json_is_true(v))
		return true;
	if (json_is_string(v))
		return strcmp(json_string_value(v), "1") == 0 ||
		       strcmp(json_string_value(v), "true") == 0;
	return false;
}

/* Describes the `error` member (null, a string or {message, code}); false
 * when it carries no error. */
static bool error_text(json_t *err, char *reason, size_t cap)
{
	if (!err || json_is_null(err) || json_is_false(err))
		return false;
	if (json_is_string(err)) {
		if (json_string_length(err) == 0)
			return false; /* "" carries no error */
		one_line(reason, cap, "", json_string_value(err), 200);
		return true;
	}
	if (json_is_object(err)) {
		json_t *m = json_object_get(err, "message");
		json_t *c = json_object_get(err, "code");
		if (json_is_string(m) && json_string_length(m) == 0)
			m = NULL;
		if (json_is_string(m) && json_is_integer(c)) {
			char code[32];
			snprintf(code, sizeof(code), " (code %lld)",
			         (long long)json_integer_value(c));
			one_line(reason, cap, "", json_string_value(m), 200);
			size_t l = strlen(reason);
			snprintf(reason + l, cap - l, "%s", code);
		} else if (json_is_string(m)) {
			one_line(reason, cap, "", json_string_value(m), 200);
		} else if (json_is_string(c)) {
			one_line(reason, cap, "error code ", json_string_value(c), 60);
		} else if (json_is_integer(c)) {
			snprintf(reason, cap, "error code %lld", (long long)json_integer_value(c));
		} else {
			snprintf(reason, cap, "engine reported an error");
		}
		return true;
	}
	snprintf(reason, cap, "engine reported an error");
	return true;
}

static bool absolute_http_url(const char *u)
{
	struct engine_url parts;
	return engine_url_split(u, &parts) == 0;
}

int engine_answer_parse(const char *body, size_t len, struct engine_answer *ret, char *reason,
                        size_t cap)
{
	if (len > ENGINE_ANSWER_MAX) {
		snprintf(reason, cap, "engine answer too large (over %d bytes)", ENGINE_ANSWER_MAX);
		return -EINVAL;
	}
	json_error_t jerr;
	json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!root) {
		snprintf(reason, cap, "engine answered with invalid JSON");
		return -EINVAL;
	}
	int rc = -EINVAL;
	struct engine_answer a;
	memset(&a, 0, sizeof(a));
	if (!json_is_object(root)) {
		snprintf(reason, cap, "engine answer is not a JSON object");
		goto free_json;
	}
	json_t *resp = json_object_get(root, "response");
	if (error_text(json_object_get(root, "error"), reason, cap))
		goto free_json;
	if (!resp || !json_is_object(resp)) {
		snprintf(reason, cap, "engine answer has no response");
		goto free_json;
	}
	int e = copy_str(resp, "playback_url", a.playback_url, sizeof(a.playback_url), true);
	if (e == -E2BIG) {
		snprintf(reason, cap, "engine answer has a playback_url too long");
		goto free_json;
	}
	if (e < 0 || !absolute_http_url(a.playback_url)) {
		snprintf(reason, cap, "engine answer has no valid playback_url");
		goto free_json;
	}
	static const struct {
		const char *name;
		size_t offset, size;
	} fields[] = {
	        {"stat_url", offsetof(struct engine_answer, stat_url), ENGINE_URL_MAX},
	        {"command_url", offsetof(struct engine_answer, command_url), ENGINE_URL_MAX},
	        {"infohash", offsetof(struct engine_answer, infohash), 128},
	        {"playback_session_id", offsetof(struct engine_answer, playback_session_id), 128},
	};
	for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
		e = copy_str(resp, fields[i].name, (char *)&a + fields[i].offset, fields[i].size,
		             false);
		if (e < 0) {
			snprintf(reason, cap, "engine answer has a malformed %s%s", fields[i].name,
			         e == -E2BIG ? " (too long)" : "");
			goto free_json;
		}
	}
	if ((a.stat_url[0] && !absolute_http_url(a.stat_url)) ||
	    (a.command_url[0] && !absolute_http_url(a.command_url))) {
		snprintf(reason, cap, "engine answer has a relative stat_url or command_url");
		goto free_json;
	}
	a.is_live = truthy(json_object_get(resp, "is_live"));
	a.is_encrypted = truthy(json_object_get(resp, "is_encrypted"));
	*ret = a;
	rc = 0;
free_json:
	json_decref(root);
	return rc;
}

/* A counter: an integer, or a real within int64 (engines vary); else 0. */
static int64_t counter(json_t *o, const char *name, const char *alias)
{
	json_t *v = json_object_get(o, name);
	if (!v && alias)
		v = json_object_get(o, alias);
	if (json_is_integer(v))
		return (int64_t)json_integer_value(v);
	if (json_is_real(v)) {
		double d = json_real_value(v);
		/* 2^63 is exact as a double; the cast is defined below it */
		if (d >= -9223372036854775808.0 && d < 9223372036854775808.0)
			return (int64_t)d;
	}
	return 0;
}

int engine_stat_parse(const char *body, size_t len, struct engine_stat *ret)
{
	if (len > ENGINE_ANSWER_MAX)
		return -EINVAL;
	json_error_t jerr;
	json_t *root = json_loadb(body, len, 0, &jerr);
	if (!root)
		return -EINVAL;
	int rc = -EINVAL;
	struct engine_stat st;
	memset(&st, 0, sizeof(st));
	if (!json_is_object(root))
		goto free_json;
	json_t *resp = json_object_get(root, "response");
	if (!resp || json_is_null(resp)) {
		st.known = false;
		*ret = st;
		rc = 0;
		goto free_json;
	}
	if (!json_is_object(resp))
		goto free_json;
	st.known = true;
	st.empty = json_object_size(resp) == 0;
	json_t *s = json_object_get(resp, "status");
	if (json_is_string(s))
		one_line(st.status, sizeof(st.status), "", json_string_value(s),
		         sizeof(st.status) - 1);
	st.peers = counter(resp, "peers", NULL);
	st.speed_down = counter(resp, "speed_down", "speedDown");
	st.speed_up = counter(resp, "speed_up", "speedUp");
	st.downloaded = counter(resp, "downloaded", NULL);
	st.uploaded = counter(resp, "uploaded", NULL);
	json_t *tp = json_object_get(resp, "total_progress");
	st.total_progress = json_is_number(tp) ? json_number_value(tp) : 0;
	*ret = st;
	rc = 0;
free_json:
	json_decref(root);
	return rc;
}
