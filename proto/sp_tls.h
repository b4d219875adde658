/* TLS for the servers' own connections (proto/ipc_server.c), on Debian's
 * mbedTLS (the library libnng's TLS uses, so that both sides agree): the
 * server's certificate and key, and every peer verified against the CA.
 * Non-blocking: the calls say when they wait for the socket. */
#ifndef ACEXY_PROTO_SP_TLS_H
#define ACEXY_PROTO_SP_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "acexy/ipc.h"

struct sp_tls_server;
struct sp_tls_conn;

/* Loads the certificate, key and CA (each a PEM file). On error a reason
 * (never the key's bytes) is written to err. */
int sp_tls_server_new(const struct ipc_tls *tls, struct sp_tls_server **ret, char *err,
                      size_t errcap);
void sp_tls_server_free(struct sp_tls_server *s);

/* A server-side TLS session on a connected, non-blocking socket. */
struct sp_tls_conn *sp_tls_conn_new(struct sp_tls_server *s, int fd);
void sp_tls_conn_free(struct sp_tls_conn *c);
/* 1: done; 0: call again when the socket is readable (*want_write false) or
 * writable (true); -1: failed (reason in err). */
int sp_tls_handshake(struct sp_tls_conn *c, bool *want_write, char *err, size_t errcap);
/* Like read(2) and write(2) on the socket: -1 with errno EAGAIN when it has
 * to wait (*want_write says for what), another errno on failure; read
 * returns 0 at the peer's end. A write that waited must be repeated with at
 * least the same bytes at the front of buf. */
ssize_t sp_tls_read(struct sp_tls_conn *c, void *buf, size_t cap, bool *want_write);
ssize_t sp_tls_write(struct sp_tls_conn *c, const void *buf, size_t len, bool *want_write);
/* Bytes already decrypted and waiting in the session (no socket event will
 * announce them). */
size_t sp_tls_pending(const struct sp_tls_conn *c);

#endif
