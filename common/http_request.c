#include "acexy/http_request.h"

#include <errno.h>
#include <http_parser.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define HEADER_NAME_MAX 63

/* The headers kept, with the limit of each value: what a sane client sends,
 * with room to spare. Longer is refused (431), not truncated: a cut
 * Authorization or X-Forwarded-For would be a different value. */
#define HOST_MAX       255
#define AUTH_MAX       2047
#define XFF_MAX        1023
#define CONNECTION_MAX 127
#define RANGE_MAX      127
#define XFPROTO_MAX    63
#define VALUES_SIZE                                                                                \
	(HOST_MAX + AUTH_MAX + XFF_MAX + CONNECTION_MAX + RANGE_MAX + HOST_MAX + XFPROTO_MAX + 7)
enum kept {
	KEPT_NONE = -1,
	KEPT_HOST,
	KEPT_AUTH,
	KEPT_XFF,
	KEPT_CONNECTION,
	KEPT_RANGE,
	KEPT_XFHOST,
	KEPT_XFPROTO,
	KEPT_COUNT
};
static const struct {
	const char *name;
	size_t max;
	bool list; /* repeats are joined with ", " (RFC 9110 5.3); else 400 */
} kept_headers[KEPT_COUNT] = {
        [KEPT_HOST] = {"host", HOST_MAX, false},
        [KEPT_AUTH] = {"authorization", AUTH_MAX, false},
        [KEPT_XFF] = {"x-forwarded-for", XFF_MAX, true},
        [KEPT_CONNECTION] = {"connection", CONNECTION_MAX, true},
        [KEPT_RANGE] = {"range", RANGE_MAX, false},
        [KEPT_XFHOST] = {"x-forwarded-host", HOST_MAX, true},
        [KEPT_XFPROTO] = {"x-forwarded-proto", XFPROTO_MAX, true},
};

struct http_request {
	http_parser parser;
	http_parser_settings settings;
	size_t max_head;
	size_t parsed; /* bytes of the buffer already given to http_parser */
	bool done;
	int err_status;
	const char *err_reason;
	const char *path;  /* into target, or a constant */
	const char *query; /* into target, or "" */
	char name[HEADER_NAME_MAX + 1];
	size_t name_len;
	bool name_too_long;
	bool in_value;
	enum kept cur;
	bool seen[KEPT_COUNT];
	size_t value_len[KEPT_COUNT];
	char *value[KEPT_COUNT]; /* into values */
	char values[VALUES_SIZE];
	size_t target_len;
	char target[]; /* max_head + 1 bytes: the request target as sent */
};

static int fail(struct http_request *r, int status, const char *reason)
{
	if (!r->err_status) {
		r->err_status = status;
		r->err_reason = reason;
	}
	return 1; /* makes http_parser stop */
}

static int on_url(http_parser *p, const char *at, size_t len)
{
	struct http_request *r = p->data;
	/* cannot happen: the head (which holds the target) is bounded the same */
	if (len > r->max_head - r->target_len)
		return fail(r, 431, "request headers too large");
	memcpy(r->target + r->target_len, at, len);
	r->target_len += len;
	r->target[r->target_len] = '\0';
	return 0;
}

static void header_name_done(struct http_request *r)
{
	r->cur = KEPT_NONE;
	if (r->name_too_long)
		return;
	r->name[r->name_len] = '\0';
	for (int i = 0; i < KEPT_COUNT; i++)
		if (strcasecmp(r->name, kept_headers[i].name) == 0)
			r->cur = (enum kept)i;
}

static int on_header_field(http_parser *p, const char *at, size_t len)
{
	struct http_request *r = p->data;
	if (r->in_value) {
		r->name_len = 0;
		r->name_too_long = false;
		r->in_value = false;
	}
	if (len > HEADER_NAME_MAX - r->name_len) {
		r->name_too_long = true; /* not one we keep */
		return 0;
	}
	memcpy(r->name + r->name_len, at, len);
	r->name_len += len;
	return 0;
}

static int append_value(struct http_request *r, enum kept k, const char *at, size_t len)
{
	if (len > kept_headers[k].max - r->value_len[k])
		return fail(r, 431, "a header value is too long");
	memcpy(r->value[k] + r->value_len[k], at, len);
	r->value_len[k] += len;
	r->value[k][r->value_len[k]] = '\0';
	return 0;
}

static int on_header_value(http_parser *p, const char *at, size_t len)
{
	struct http_request *r = p->data;
	if (!r->in_value) {
		/* the first piece of this header's value */
		header_name_done(r);
		r->in_value = true;
		if (r->cur == KEPT_NONE)
			return 0;
		if (r->seen[r->cur]) {
			if (!kept_headers[r->cur].list)
				return fail(r, 400, "a header that may appear once is repeated");
			if (append_value(r, r->cur, ", ", 2))
				return 1;
		}
		r->seen[r->cur] = true;
	}
	if (r->cur == KEPT_NONE)
		return 0;
	return append_value(r, r->cur, at, len);
}

static int on_headers_complete(http_parser *p)
{
	struct http_request *r = p->data;
	r->done = true;
	if ((p->content_length > 0 && p->content_length != ULLONG_MAX) || (p->flags & F_CHUNKED))
		return fail(r, 400, "a request body is not expected");
	return 1; /* no body: the message ends here */
}

static int on_message_complete(http_parser *p)
{
	/* stop at the end of this request: pipelined bytes wait for the next */
	http_parser_pause(p, 1);
	return 0;
}

int http_request_new(size_t max_head, struct http_request **ret)
{
	if (max_head == 0 || max_head > SIZE_MAX / 2)
		return -EINVAL;
	struct http_request *r = calloc(1, sizeof(*r) + max_head + 1);
	if (!r)
		return -ENOMEM;
	r->max_head = max_head;
	http_parser_settings_init(&r->settings);
	r->settings.on_url = on_url;
	r->settings.on_header_field = on_header_field;
	r->settings.on_header_value = on_header_value;
	r->settings.on_headers_complete = on_headers_complete;
	r->settings.on_message_complete = on_message_complete;
	char *v = r->values;
	for (int i = 0; i < KEPT_COUNT; i++) {
		r->value[i] = v;
		v += kept_headers[i].max + 1;
	}
	http_request_reset(r);
	*ret = r;
	return 0;
}

void http_request_free(struct http_request *r)
{
	free(r);
}

void http_request_reset(struct http_request *r)
{
	http_parser_init(&r->parser, HTTP_REQUEST);
	r->parser.data = r;
	r->parsed = 0;
	r->done = false;
	r->err_status = 0;
	r->err_reason = NULL;
	r->target_len = 0;
	r->target[0] = '\0';
	r->path = r->target;
	r->query = "";
	r->name_len = 0;
	r->name_too_long = false;
	r->in_value = true;
	r->cur = KEPT_NONE;
	for (int i = 0; i < KEPT_COUNT; i++) {
		r->seen[i] = false;
		r->value_len[i] = 0;
		r->value[i][0] = '\0';
	}
}

/* Splits the target in place into path and query. Origin-form "/p?q" is
 * what viewers send; absolute-form "http://host/p?q" must be accepted too
 * (RFC 9112 3.2.2); "*" only comes with OPTIONS (answered 405). */
static int split_target(struct http_request *r)
{
	char *t = r->target;
	for (size_t i = 0; i < r->target_len; i++)
		if ((unsigned char)t[i] <= ' ' || t[i] == 0x7f)
			return fail(r, 400, "invalid character in request target");
	char *hash = strchr(t, '#');
	if (hash)
		*hash = '\0';
	char *path = t;
	if (strncasecmp(t, "http://", 7) == 0 || strncasecmp(t, "https://", 8) == 0) {
		char *authority = strstr(t, "//") + 2;
		path = authority + strcspn(authority, "/?");
		if (path == authority)
			return fail(r, 400, "request target has no host");
	} else if (strcmp(t, "*") == 0) {
		r->path = t;
		return 0;
	} else if (t[0] != '/') {
		return fail(r, 400, "request target must be an absolute path");
	}
	char *q = strchr(path, '?');
	if (q) {
		*q = '\0';
		r->query = q + 1;
	}
	r->path = path[0] ? path : "/";
	return 0;
}

int http_request_feed(struct http_request *r, const char *buf, size_t len, size_t *ret_consumed)
{
	if (r->err_status)
		return r->err_status == 431 ? -E2BIG : -EINVAL;
	if (r->done || len < r->parsed)
		return -EINVAL; /* misuse: reset first, always feed the same prefix */
	size_t n = len - r->parsed;
	size_t limit = r->max_head - r->parsed;
	if (n > limit)
		n = limit;
	size_t used = http_parser_execute(&r->parser, &r->settings, buf + r->parsed, n);
	r->parsed += used;
	if (!r->err_status && r->done && split_target(r) == 0) {
		*ret_consumed = r->parsed;
		return HTTP_REQ_DONE;
	}
	if (!r->err_status) {
		enum http_errno e = HTTP_PARSER_ERRNO(&r->parser);
		if (e == HPE_HEADER_OVERFLOW)
			fail(r, 431, "request headers too large");
		else if (e != HPE_OK)
			fail(r, 400, http_errno_description(e));
		else if (r->parsed >= r->max_head)
			fail(r, 431, "request headers too large");
	}
	if (r->err_status)
		return r->err_status == 431 ? -E2BIG : -EINVAL;
	return HTTP_REQ_NEED_MORE;
}

int http_request_error_status(const struct http_request *r)
{
	return r->err_status ? r->err_status : 400;
}

const char *http_request_error_reason(const struct http_request *r)
{
	return r->err_reason ? r->err_reason : "malformed request";
}

enum http_req_method http_request_method(const struct http_request *r)
{
	switch (r->parser.method) {
	case HTTP_GET:
		return HTTP_REQ_GET;
	case HTTP_HEAD:
		return HTTP_REQ_HEAD;
	default:
		return HTTP_REQ_OTHER;
	}
}

const char *http_request_method_name(const struct http_request *r)
{
	return http_method_str((enum http_method)r->parser.method);
}

const char *http_request_path(const struct http_request *r)
{
	return r->path;
}

const char *http_request_query(const struct http_request *r)
{
	return r->query;
}

int http_request_version(const struct http_request *r)
{
	return r->parser.http_major * 10 + r->parser.http_minor;
}

bool http_request_keep_alive(const struct http_request *r)
{
	return http_should_keep_alive(&r->parser) != 0;
}

const char *http_request_header(const struct http_request *r, const char *name)
{
	for (int i = 0; i < KEPT_COUNT; i++)
		if (strcasecmp(name, kept_headers[i].name) == 0)
			return r->value[i];
	return "";
}
