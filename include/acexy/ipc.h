/* The daemons' sockets on libev loops. Clients are libnng REQ sockets: nng
 * completes operations on its own threads and their results reach a loop
 * only through a mailbox (a queue + ev_async), so all acexy state stays
 * single-threaded per loop. Servers speak nng's wire format themselves on
 * their loop (proto/ipc_server.c, acexy/sp_wire.h). */
#ifndef ACEXY_IPC_H
#define ACEXY_IPC_H

#include <ev.h>
#include <nng/nng.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "acexy/proto.h"

struct ipc_mailbox;
int ipc_mailbox_new(struct ev_loop *loop, struct ipc_mailbox **ret);
void ipc_mailbox_free(struct ipc_mailbox *mb);
/* Runs fn(arg) on the mailbox's loop. Thread-safe. */
void ipc_mailbox_post(struct ipc_mailbox *mb, void (*fn)(void *), void *arg);

/* Creates the run dir (0750) if missing and writes "ipc://<dir>/<name>". */
int ipc_url(const char *run_dir, const char *name, char *buf, size_t cap);

/* Client: a REQ socket dialing `url` in the background (either side may
 * start first; reconnects with back-off). */
/* resend_ms < 0 disables nng's resends: every call has its own deadline and
 * a resent assign could take a second lease. */
int ipc_client_open(const char *url, int32_t resend_ms, nng_socket *ret);

/* ipc://, tcp:// and tls+tcp:// (ACEXY_CONTROL_URL). For tls+tcp:// cert,
 * key and ca name PEM files: this side's certificate and key, and the CA
 * the other side's certificate must chain to (both sides verify). */
struct ipc_tls {
	const char *cert, *key, *ca;
};
/* Like ipc_client_open; tls is used for tls+tcp:// URLs. On error a reason
 * is written to err. */
int ipc_client_open_tls(const char *url, int32_t resend_ms, const struct ipc_tls *tls,
                        nng_socket *ret, char *err, size_t errcap);
/* err: 0 or an nng error (NNG_ETIMEDOUT, NNG_ECLOSED, ...). buf is valid
 * only during the callback. */
typedef void (*ipc_reply_fn)(void *ud, int err, const uint8_t *buf, size_t len);
int ipc_call(nng_socket sock, struct ipc_mailbox *mb, const void *buf, size_t len,
             uint32_t timeout_ms, ipc_reply_fn cb, void *ud);

/* Server: answers libnng REQ peers on `loop`. Each request is handed to cb
 * on the loop (buf valid during the call); it must be answered exactly once
 * with ipc_reply (at once or later, in any order; an answer to a peer gone
 * meanwhile goes nowhere), never after ipc_server_close. A connection is
 * not read while `nctx` of its requests wait for answers. With owner_only,
 * peers of another uid than ours (root aside) are disconnected. A live
 * socket file owned by another process makes open fail with -EADDRINUSE; a
 * stale one is replaced. The server functions and ipc_pipe_* are called on
 * the server's loop thread only. */
struct ipc_server;
struct ipc_req;
typedef void (*ipc_request_fn)(void *ud, struct ipc_req *req, const uint8_t *buf, size_t len);
int ipc_server_open(struct ev_loop *loop, const char *url, int nctx, bool owner_only,
                    ipc_request_fn cb, void *ud, struct ipc_server **ret);
void ipc_reply(struct ipc_req *req, const void *buf, size_t len);
/* The one way a server answers a message: encodes the typed body (a struct
 * proto_<body> of `type`, see proto.h) and replies; a body that cannot be
 * encoded is answered error/internal instead. */
void ipc_reply_msg(struct ipc_req *req, enum proto_type type, uint64_t id, const void *body);
void ipc_reply_error(struct ipc_req *req, uint64_t id, const char *code, const char *message);

/* A server for ACEXY_CONTROL_URL: owner_only applies to ipc:// only (the
 * peer's uid), TLS to tls+tcp://. on_pipe (may be NULL) is told, on the
 * server's loop, when a connection comes (added: after its handshake,
 * before its first request) and goes (on a later loop turn; also for one
 * closed with ipc_pipe_close). */
typedef void (*ipc_pipe_fn)(void *ud, uint32_t pipe, bool added);
int ipc_server_open_tls(struct ev_loop *loop, const char *url, int nctx, bool owner_only,
                        const struct ipc_tls *tls, ipc_request_fn cb, ipc_pipe_fn on_pipe, void *ud,
                        struct ipc_server **ret, char *err, size_t errcap);
/* The connection a request came on (an id of this process, never 0). */
uint32_t ipc_req_pipe(const struct ipc_req *req);
/* The peer address of a connection ("10.0.0.7:51234", "[::1]:4000", "ipc"),
 * "" when it is gone. Returns false when gone. */
bool ipc_pipe_addr(uint32_t pipe, char *buf, size_t cap);
/* How often the listener paused accepting (out of file descriptors). */
uint64_t ipc_server_restarts(const struct ipc_server *s);
/* Peers dropped for what is not a REQ peer (control_peer_refused). */
uint64_t ipc_server_refused(const struct ipc_server *s);
/* Ends a connection (a peer that broke the rules). */
void ipc_pipe_close(uint32_t pipe);
void ipc_server_close(struct ipc_server *s);

/* An admin socket's request: decoded (CTL -> daemon only), dispatched by the
 * PROTO_ADMIN_COMMANDS table to handlers[command] (NULL: "answered by
 * <elsewhere>"), answered admin_reply {result} or error/failed. Returns
 * false (answered error/malformed, reason in err) when the request did not
 * decode: the caller logs and counts it. */
typedef json_t *(*ipc_admin_fn)(void *ctx, const struct proto_admin *a, char *err, size_t errcap);
bool ipc_admin_serve(struct ipc_req *req, const uint8_t *buf, size_t len,
                     const ipc_admin_fn handlers[PROTO_ADMIN_COUNT_], void *ctx,
                     const char *elsewhere, char *err, size_t errcap);

#endif
