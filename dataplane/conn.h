/* A viewer connection on a worker loop. */
#ifndef ACEXY_DP_CONN_H
#define ACEXY_DP_CONN_H

#include <ev.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "dataplane/dataplane.h"
#include "dataplane/http_request.h"

enum conn_state { C_READING, C_RESPONDING, C_STREAM, C_CLOSED };

struct conn {
	struct conn *prev, *next;
	struct worker *w;
	int fd;
	enum conn_state state;
	ev_io rio, wio;
	ev_timer req_timer;
	struct sockaddr_storage peer;
	char peer_ip[64];
	struct http_request *req;
	char *in;
	size_t in_len, in_cap;
	char *out; /* a small response being written */
	size_t out_len, out_off;
	bool close_after;
	bool head;               /* the request was HEAD */
	struct viewer *viewer;   /* a stream's viewer once the request is a stream */
	struct hls_fetch *fetch; /* an HLS resource being fetched for this request */
	char client_ip[64];      /* counted against ACEXY_MAX_CONNS_PER_IP */
	bool ip_counted;
};

/* A viewer connection moving between loops (multiplex). */
enum handoff_kind { HANDOFF_STREAM, HANDOFF_HLS, HANDOFF_HLS_RESOURCE };
struct conn_handoff {
	enum handoff_kind kind;
	int fd;
	struct sockaddr_storage peer;
	bool close_after;
	bool ip_counted; /* the ACEXY_MAX_CONNS_PER_IP count moves along */
	char client_ip[64];
	char query[]; /* the request's raw query string (HLS resource: its path) */
};

/* Queues a complete small response and writes it. `reason` becomes the body
 * (one line) for errors. extra_headers: "Name: v\r\n..." or NULL. */
void conn_respond(struct conn *c, int status, const char *content_type, const char *extra_headers,
                  const char *body, size_t body_len);
void conn_respond_error(struct conn *c, int status, const char *reason, unsigned retry_after);
void conn_close(struct conn *c);
const char *http_status_text(int status);

/* Hands a connection whose request is read to another worker, which
 * carries on with stream_begin(query). The conn is gone afterwards. */
void conn_handoff(struct conn *c, struct worker *to, enum handoff_kind kind, const char *query);
/* The receiving side (worker loop of `w`). */
void conn_adopt(struct worker *w, struct conn_handoff *h);

/* stream.c */
void stream_begin(struct conn *c, const char *query);
void worker_end_streams(struct worker *w, enum dp_end_reason reason);
void stream_on_viewer_readable(struct conn *c);
void stream_on_viewer_writable(struct conn *c);
void stream_conn_closing(struct conn *c);

/* status.c: /ace/status, /metrics, /livez, /readyz */
void serve_status(struct conn *c);
void serve_metrics(struct conn *c);

#endif
