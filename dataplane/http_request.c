#include "dataplane/http_request.h"

#include <errno.h>
#include <http_parser.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define URL_MAX  8192
#define HVAL_MAX 2048

enum kept { H_NONE = -1, H_HOST, H_AUTH, H_XFF, H_COUNT };
static const char *const kept_names[H_COUNT] = {"host", "authorization", "x-forwarded-for"};

struct http_request {
	http_parser parser;
	http_parser_settings settings;
	size_t max_head;
	size_t parsed; /* bytes of the buffer already given to http_parser */
	bool done;
	int err_status;
	const char *err_reason;
	char url[URL_MAX + 1];
	size_t url_len;
	char path[URL_MAX + 1];
	char query[URL_MAX + 1];
	char hname[64];
	size_t hname_len;
	bool hname_too_long;
	bool last_was_value;
	enum kept cur;
	char hval[H_COUNT][HVAL_MAX + 1];
	size_t hval_len[H_COUNT];
};

static int fail(struct http_request *r, int status, const char *reason)
{
	if (!r->err_status) {
		r->err_status = status;
		r->err_reason = reason;
	}
	return 1;
}

static int on_url(http_parser *p, const char *at, size_t len)
{
	struct http_request *r = p->data;
	if (r->url_len + len > URL_MAX)
		return fail(r, 431, "request line too long");
	memcpy(r->url + r->url_len, at, len);
	r->url_len += len;
	r->url[r->url_len] = '\0';
	return 0;
}

static void header_name_done(struct http_request *r)
{
	r->cur = H_NONE;
	if (r->hname_too_long)
		return;
	r->hname[r->hname_len] = '\0';
	for (int i = 0; i < H_COUNT; i++)
		if (strcasecmp(r->hname, kept_names[i]) == 0)
			r->cur = (enum kept)i;
}

static int on_header_field(http_parser *p, const char *at, size_t len)
{
	struct http_request *r = p->data;
	if (r->last_was_value) {
		r->hname_len = 0;
		r->hname_too_long = false;
		r->last_was_value = false;
	}
	if (r->hname_len + len >= sizeof(r->hname)) {
		r->hname_too_long = true;
		return 0;
	}
	memcpy(r->hname + r->hname_len, at, len);
	r->hname_len += len;
	return 0;
}

static int on_header_value(http_parser *p, const char *at, size_t len)
{
	struct http_request *r = p->data;
	if (!r->last_was_value) {
		header_name_done(r);
		r->last_was_value = true;
		if (r->cur != H_NONE && r->hval_len[r->cur] > 0 && r->cur == H_XFF) {
			/* repeated X-Forwarded-For headers form one list */
			if (r->hval_len[r->cur] + 2 <= HVAL_MAX) {
				memcpy(r->hval[r->cur] + r->hval_len[r->cur], ", ", 2);
				r->hval_len[r->cur] += 2;
			}
		} else if (r->cur != H_NONE) {
			r->hval_len[r->cur] = 0;
		}
	}
	if (r->cur == H_NONE)
		return 0;
	if (r->hval_len[r->cur] + len > HVAL_MAX)
		return fail(r, 431, "a header value is too long");
	memcpy(r->hval[r->cur] + r->hval_len[r->cur], at, len);
	r->hval_len[r->cur] += len;
	r->hval[r->cur][r->hval_len[r->cur]] = '\0';
	return 0;
}

static int on_headers_complete(http_parser *p)
{
	struct http_request *r = p->data;
	r->done = true;
	if (p->content_length > 0 && p->content_length != ULLONG_MAX)
		return fail(r, 400, "a request body is not expected") + 1;
	if (p->flags & F_CHUNKED)
		return fail(r, 400, "a request body is not expected") + 1;
	/* 2: stop parsing after the head, do not expect a body */
	return 1;
}

static int on_message_complete(http_parser *p)
{
	/* stop at the end of this request: pipelined bytes wait for the next */
	http_parser_pause(p, 1);
	return 0;
}

int http_request_new(size_t max_head, struct http_request **ret)
{
	struct http_request *r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->max_head = max_head;
	http_parser_settings_init(&r->settings);
	r->settings.on_url = on_url;
	r->settings.on_header_field = on_header_field;
	r->settings.on_header_value = on_header_value;
	r->settings.on_headers_complete = on_headers_complete;
	r->settings.on_message_complete = on_message_complete;
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
	r->url_len = 0;
	r->url[0] = r->path[0] = r->query[0] = '\0';
	r->hname_len = 0;
	r->hname_too_long = false;
	r->last_was_value = true;
	r->cur = H_NONE;
	for (int i = 0; i < H_COUNT; i++) {
		r->hval_len[i] = 0;
		r->hval[i][0] = '\0';
	}
}

static int split_url(struct http_request *r)
{
	if (r->url_len == 0 || r->url[0] != '/')
		return fail(r, 400, "request target must be an absolute path") ? -EINVAL : 0;
	const char *q = memchr(r->url, '?', r->url_len);
	size_t plen = q ? (size_t)(q - r->url) : r->url_len;
	const char *frag = memchr(r->url, '#', r->url_len);
	size_t end = frag ? (size_t)(frag - r->url) : r->url_len;
	if (plen > end)
		plen = end;
	memcpy(r->path, r->url, plen);
	r->path[plen] = '\0';
	if (q && (size_t)(q - r->url) < end) {
		size_t ql = end - (size_t)(q - r->url) - 1;
		memcpy(r->query, q + 1, ql);
		r->query[ql] = '\0';
	}
	for (const char *c = r->url; *c; c++)
		if ((unsigned char)*c <= ' ' || *c == 0x7f)
			return fail(r, 400, "invalid character in request target") ? -EINVAL : 0;
	return 0;
}

int http_request_feed(struct http_request *r, const char *buf, size_t len, size_t *ret_consumed)
{
	if (r->err_status)
		return -EINVAL;
	if (r->done)
		return -EINVAL;
	if (len < r->parsed)
		return -EINVAL;
	size_t n = len - r->parsed;
	size_t limit = r->max_head > r->parsed ? r->max_head - r->parsed : 0;
	bool over = false;
	if (n > limit) {
		n = limit;
		over = true;
	}
	size_t used = http_parser_execute(&r->parser, &r->settings, buf + r->parsed, n);
	r->parsed += used;
	if (r->err_status)
		return -EINVAL;
	if (r->done) {
		if (split_url(r) < 0)
			return -EINVAL;
		*ret_consumed = r->parsed;
		return HTTP_REQ_DONE;
	}
	if (HTTP_PARSER_ERRNO(&r->parser) != HPE_OK) {
		fail(r, 400, http_errno_description(HTTP_PARSER_ERRNO(&r->parser)));
		return -EINVAL;
	}
	if (over || r->parsed >= r->max_head) {
		fail(r, 431, "request headers too large");
		return -E2BIG;
	}
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

const char *http_request_path(const struct http_request *r)
{
	return r->path;
}

const char *http_request_query(const struct http_request *r)
{
	return r->query;
}

bool http_request_keep_alive(const struct http_request *r)
{
	return http_should_keep_alive(&r->parser) != 0;
}

const char *http_request_header(const struct http_request *r, const char *name)
{
	for (int i = 0; i < H_COUNT; i++)
		if (strcasecmp(name, kept_names[i]) == 0)
			return r->hval[i];
	return "";
}
