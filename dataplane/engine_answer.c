#include "dataplane/engine_answer.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

static bool absolute_http_url(const char *u)
{
	if (strncmp(u, "http://", 7) != 0 && strncmp(u, "https://", 8) != 0)
		return false;
	for (const char *c = u; *c; c++)
		if ((unsigned char)*c <= ' ' || *c == 0x7f)
			return false;
	return true;
}

static int copy_str(json_t *obj, const char *key, char *out, size_t cap, bool required)
{
	json_t *v = json_object_get(obj, key);
	out[0] = '\0';
	if (!v || json_is_null(v))
		return required ? -ENOENT : 0;
	if (!json_is_string(v))
		return -EINVAL;
	size_t l = json_string_length(v);
	if (l >= cap)
		return -E2BIG;
	memcpy(out, json_string_value(v), l);
	out[l] = '\0';
	if (strlen(out) != l)
		return -EINVAL; /* embedded NUL */
	return 0;
}

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

/* Describes the `error` member: null, a string or {message, code}. */
static bool error_text(json_t *err, char *reason, size_t cap)
{
	if (!err || json_is_null(err))
		return false;
	if (json_is_string(err)) {
		if (json_string_length(err) == 0)
			return false; /* "" carries no error */
		snprintf(reason, cap, "%.200s", json_string_value(err));
		return true;
	}
	if (json_is_object(err)) {
		json_t *m = json_object_get(err, "message");
		json_t *c = json_object_get(err, "code");
		if (json_is_string(m) && json_string_length(m) == 0)
			m = NULL;
		if (json_is_string(m) && json_is_integer(c))
			snprintf(reason, cap, "%.200s (code %lld)", json_string_value(m),
			         (long long)json_integer_value(c));
		else if (json_is_string(m))
			snprintf(reason, cap, "%.200s", json_string_value(m));
		else if (json_is_string(c))
			snprintf(reason, cap, "error code %.60s", json_string_value(c));
		else
			snprintf(reason, cap, "engine reported an error");
		return true;
	}
	if (json_is_false(err))
		return false;
	snprintf(reason, cap, "engine reported an error");
	return true;
}

int engine_answer_parse(const char *body, size_t len, struct engine_answer *ret, char *reason,
                        size_t cap)
{
	if (len > ENGINE_ANSWER_MAX) {
		snprintf(reason, cap, "engine answer too large");
		return -EINVAL;
	}
	json_error_t jerr;
	/* jansson bounds nesting depth itself (JSON_PARSER_MAX_DEPTH = 2048) */
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
		goto out;
	}
	json_t *resp = json_object_get(root, "response");
	json_t *err = json_object_get(root, "error");
	if (error_text(err, reason, cap))
		goto out;
	if (!resp || !json_is_object(resp)) {
		snprintf(reason, cap, "engine answer has no response");
		goto out;
	}
	int e = copy_str(resp, "playback_url", a.playback_url, sizeof(a.playback_url), true);
	if (e < 0 || !absolute_http_url(a.playback_url)) {
		snprintf(reason, cap, "engine answer has no valid playback_url");
		goto out;
	}
	if (copy_str(resp, "stat_url", a.stat_url, sizeof(a.stat_url), false) < 0 ||
	    copy_str(resp, "command_url", a.command_url, sizeof(a.command_url), false) < 0 ||
	    copy_str(resp, "infohash", a.infohash, sizeof(a.infohash), false) < 0 ||
	    copy_str(resp, "playback_session_id", a.playback_session_id,
	             sizeof(a.playback_session_id), false) < 0) {
		snprintf(reason, cap, "engine answer has a malformed field");
		goto out;
	}
	if ((a.stat_url[0] && !absolute_http_url(a.stat_url)) ||
	    (a.command_url[0] && !absolute_http_url(a.command_url))) {
		snprintf(reason, cap, "engine answer has a relative stat_url or command_url");
		goto out;
	}
	a.is_live = truthy(json_object_get(resp, "is_live"));
	a.is_encrypted = truthy(json_object_get(resp, "is_encrypted"));
	*ret = a;
	rc = 0;
out:
	json_decref(root);
	return rc;
}

static int64_t int_of(json_t *o, const char *k1, const char *k2)
{
	json_t *v = json_object_get(o, k1);
	if (!v && k2)
		v = json_object_get(o, k2);
	if (json_is_integer(v))
		return (int64_t)json_integer_value(v);
	if (json_is_real(v))
		return (int64_t)json_real_value(v);
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
		goto out;
	json_t *resp = json_object_get(root, "response");
	if (!resp || json_is_null(resp)) {
		st.known = false;
		rc = 0;
		goto done;
	}
	if (!json_is_object(resp))
		goto out;
	st.known = true;
	st.empty = json_object_size(resp) == 0;
	json_t *s = json_object_get(resp, "status");
	if (json_is_string(s))
		snprintf(st.status, sizeof(st.status), "%s", json_string_value(s));
	st.peers = int_of(resp, "peers", NULL);
	st.speed_down = int_of(resp, "speed_down", "speedDown");
	st.speed_up = int_of(resp, "speed_up", "speedUp");
	st.downloaded = int_of(resp, "downloaded", NULL);
	st.uploaded = int_of(resp, "uploaded", NULL);
	json_t *tp = json_object_get(resp, "total_progress");
	st.total_progress = json_is_number(tp) ? json_number_value(tp) : 0;
	rc = 0;
done:
	*ret = st;
out:
	json_decref(root);
	return rc;
}
