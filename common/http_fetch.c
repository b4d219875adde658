/* One capped HTTP request on curl_ev: see include/acexy/http_fetch.h. */
#include "acexy/http_fetch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FIRST_CAP (16 * 1024)

struct http_fetch {
	struct curl_ev *ce;
	CURL *easy;
	struct curl_slist *headers;
	http_fetch_fn done;
	void *ud;
	char *body;
	size_t len, cap, max;
	bool too_big;
};

static size_t on_body(char *d, size_t sz, size_t n, void *ud)
{
	struct http_fetch *f = ud;
	size_t len = sz * n;
	if (len > f->max - f->len) {
		f->too_big = true;
		return 0; /* curl stops with CURLE_WRITE_ERROR */
	}
	if (f->len + len + 1 > f->cap) {
		size_t cap = f->cap ? f->cap : FIRST_CAP;
		while (cap < f->len + len + 1)
			cap *= 2;
		if (cap > f->max + 1)
			cap = f->max + 1;
		char *nb = realloc(f->body, cap);
		if (!nb)
			return 0;
		f->body = nb;
		f->cap = cap;
	}
	memcpy(f->body + f->len, d, len);
	f->len += len;
	f->body[f->len] = '\0';
	return len;
}

static void fetch_free(struct http_fetch *f)
{
	curl_slist_free_all(f->headers);
	free(f->body);
	free(f);
}

static void on_done(void *ud, CURL *easy, CURLcode res)
{
	struct http_fetch *f = ud;
	if (res == CURLE_FILESIZE_EXCEEDED)
		f->too_big = true;
	struct http_fetch_result r = {
	        .res = res, .body = f->body ? f->body : "", .len = f->len, .too_big = f->too_big};
	curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &r.status);
	char *ct = NULL;
	curl_easy_getinfo(easy, CURLINFO_CONTENT_TYPE, &ct);
	r.content_type = ct ? ct : "";
	char err[64];
	if (f->too_big) {
		snprintf(err, sizeof(err), "answer larger than %zu bytes", f->max);
		r.error = err;
	} else {
		r.error = res == CURLE_OK ? "" : curl_easy_strerror(res);
	}
	f->done(f->ud, &r);
	curl_easy_cleanup(easy); /* after: content_type points into it */
	fetch_free(f);
}

struct http_fetch *http_fetch_start(struct curl_ev *ce, const struct http_fetch_req *req,
                                    http_fetch_fn done, void *ud)
{
	struct http_fetch *f = calloc(1, sizeof(*f));
	CURL *e = curl_easy_init();
	if (!f || !e) {
		curl_slist_free_all(req->headers);
		free(f);
		if (e)
			curl_easy_cleanup(e);
		return NULL;
	}
	f->ce = ce;
	f->easy = e;
	f->headers = req->headers;
	f->done = done;
	f->ud = ud;
	f->max = req->max;
	curl_easy_setopt(e, CURLOPT_URL, req->url);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	if (req->timeout_ms > 0)
		curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, req->timeout_ms);
	if (req->connect_timeout_ms > 0)
		curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, req->connect_timeout_ms);
	if (req->low_speed_time_s > 0) {
		curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
		curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, req->low_speed_time_s);
	}
	if (req->follow_redirects) {
		curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 1L);
		curl_easy_setopt(e, CURLOPT_MAXREDIRS, 5L);
		curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	}
	if (req->forbid_reuse)
		curl_easy_setopt(e, CURLOPT_FORBID_REUSE, 1L);
	if (req->tcp_nodelay)
		curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
	if (req->compressed)
		curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
	if (req->user_agent)
		curl_easy_setopt(e, CURLOPT_USERAGENT, req->user_agent);
	/* a Content-Length over the cap fails at once (CURLE_FILESIZE_EXCEEDED) */
	curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)req->max);
	if (f->headers)
		curl_easy_setopt(e, CURLOPT_HTTPHEADER, f->headers);
	if (req->post) {
		curl_easy_setopt(e, CURLOPT_POST, 1L);
		curl_easy_setopt(e, CURLOPT_COPYPOSTFIELDS, req->post);
	}
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, f);
	if (curl_ev_add(ce, e, on_done, f) < 0) {
		curl_easy_cleanup(e);
		fetch_free(f);
		return NULL;
	}
	return f;
}

void http_fetch_cancel(struct http_fetch *f)
{
	if (!f)
		return;
	curl_ev_remove(f->ce, f->easy);
	curl_easy_cleanup(f->easy);
	fetch_free(f);
}
