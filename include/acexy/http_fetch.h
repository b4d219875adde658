/* One capped HTTP request on a libcurl multi driven by libev (curl_ev.h):
 * the answer's body is read up to `max` bytes (more stops the transfer:
 * too_big), then `done` is called once with the status, the body and the
 * error. Every engine, orchestrator and probe request of both daemons that
 * wants a whole (small) answer goes through here; the playback stream does
 * not (dataplane/upstream.c reads it itself). */
#ifndef ACEXY_HTTP_FETCH_H
#define ACEXY_HTTP_FETCH_H

#include <curl/curl.h>
#include <stdbool.h>
#include <stddef.h>

#include "acexy/curl_ev.h"

struct http_fetch_req {
	const char *url;            /* http:// or https:// only */
	size_t max;                 /* body bytes at most */
	long timeout_ms;            /* the whole request; 0: none */
	long connect_timeout_ms;    /* 0: curl's default */
	long low_speed_time_s;      /* >0: give up after this long without progress */
	bool follow_redirects;      /* up to 5, http and https only */
	bool forbid_reuse;          /* no kept-alive connection afterwards */
	bool tcp_nodelay;           /* small requests answered at once */
	bool compressed;            /* accept any encoding curl can decode */
	const char *user_agent;     /* or NULL: none sent */
	struct curl_slist *headers; /* taken: freed with the request */
	const char *post;           /* a POST with this body (copied), or NULL */
};

struct http_fetch_result {
	CURLcode res;             /* CURLE_OK: the whole answer arrived */
	long status;              /* HTTP status; 0 when none came */
	const char *body;         /* NUL-terminated; valid during the callback */
	size_t len;               /* body bytes (at most max) */
	bool too_big;             /* the body or its Content-Length passed max (res is
	                           * an error then) */
	const char *content_type; /* the answer's Content-Type, "" when none */
	const char *error;        /* res (or too_big) in words; "" when complete */
};

typedef void (*http_fetch_fn)(void *ud, const struct http_fetch_result *r);

struct http_fetch;

/* Starts the request; NULL when it could not be (req->headers freed then). */
struct http_fetch *http_fetch_start(struct curl_ev *ce, const struct http_fetch_req *req,
                                    http_fetch_fn done, void *ud);
/* Stops a request in flight without calling `done`. */
void http_fetch_cancel(struct http_fetch *f);

#endif
