/* A viewer connection on a worker loop. */
#ifndef ACEXY_DP_CONN_H
#define ACEXY_DP_CONN_H

#include <ev.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "acexy/http_request.h"
#include "dataplane/dataplane.h"

enum conn_state { C_READING, C_RESPONDING, C_STREAM, C_CLOSED };
struct conn_handlers;

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
	bool head;          /* the request was HEAD */
	bool in_lost;       /* bytes the peer sent were dropped: answer with close */
	char client_ip[64]; /* counted against ACEXY_MAX_CONNS_PER_IP */
	bool ip_counted;
	bool viewer_slot; /* holds one of ACEXY_MAX_VIEWERS (access_take_viewer) */
	/* waiting for a request (new, or keep-alive between requests): the
	 * worker's idle list, oldest first, from which seats are reclaimed */
	struct conn *idle_prev, *idle_next;
	bool idle;
	/* set while a stream's viewer or an HLS fetch serves the request */
	const struct conn_handlers *handlers;
	void *handler_data;
};

/* What serves a connection once its request became a stream viewer or an
 * HLS fetch (state C_STREAM): conn.c calls these instead of its own. */
struct conn_handlers {
	void (*on_readable)(struct conn *c); /* reads only detect the peer leaving */
	void (*on_writable)(struct conn *c); /* NULL: stop watching */
	void (*on_close)(struct conn *c);    /* the connection closes under it */
};

/* A viewer connection moving between loops (multiplex). */
enum handoff_kind {
	HANDOFF_STREAM,
	HANDOFF_HLS,
	HANDOFF_HLS_RESOURCE,
	HANDOFF_PROBE,     /* /ace/probe to the content's shared TS stream's loop */
	HANDOFF_PROBE_HLS, /* then to its shared HLS stream's loop */
};
struct conn_handoff {
	enum handoff_kind kind;
	int fd;
	struct sockaddr_storage peer;
	bool close_after;
	bool head;
	bool ip_counted;  /* the ACEXY_MAX_CONNS_PER_IP count moves along */
	bool viewer_slot; /* and the ACEXY_MAX_VIEWERS seat */
	char client_ip[64];
	size_t in_len; /* pipelined bytes after the request, after the query */
	char query[];  /* the request's raw query string (HLS resource: its path) */
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

/* Hands the connection to `h` (state C_STREAM); conn_detach takes it back
 * (the state is then the caller's to set). */
void conn_attach(struct conn *c, const struct conn_handlers *h, void *data);
void conn_detach(struct conn *c);
/* For on_readable: reads what the peer sent; true when it left. What it
 * sent is kept for after the answer (pipelined requests), or, past the
 * request buffer, dropped with the answer saying Connection: close. */
bool conn_peer_left(struct conn *c);

/* The routes conn.c hands requests to. viewer.c: a TS stream. */
void stream_begin(struct conn *c, const char *query);
/* stream.c */
void worker_end_streams(struct worker *w, enum dp_end_reason reason);
/* hls.c: a session's master playlist; one of its resources */
void hls_begin(struct conn *c, const char *query);
void hls_resource(struct conn *c, const char *path);

/* status.c: /ace/status, /metrics, /livez, /readyz */
void serve_status(struct conn *c);
void serve_metrics(struct conn *c);

#endif
