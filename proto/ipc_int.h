/* Internals shared by ipc.c (mailbox, client, TLS) and ipc_server.c. */
#ifndef ACEXY_PROTO_IPC_INT_H
#define ACEXY_PROTO_IPC_INT_H

#include <nng/nng.h>
#include <nng/supplemental/tls/tls.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "acexy/ipc.h"

/* TLS configuration of one side: own certificate and key, the peer verified
 * against the CA (required both ways); server_name: the host a client dials. */
int ipc_tls_config(const struct ipc_tls *tls, bool server, const char *server_name,
                   nng_tls_config **ret, char *err, size_t errcap);
bool ipc_url_is_tls(const char *url);
/* A PEM file (at most 256 KiB), NUL-terminated, malloc'ed; NULL with a
 * reason in err. `what` names it in the reason ("certificate", "key"). */
char *ipc_read_pem(const char *path, char *err, size_t errcap, const char *what);
bool ipc_url_is_ipc(const char *url);
/* A REQ socket dialing url; probe: the listener watchdog's own knock (no
 * redial, no check of the listener's certificate). */
int ipc_client_dial(const char *url, int32_t resend_ms, const struct ipc_tls *tls, bool probe,
                    nng_socket *ret, char *err, size_t errcap);

#endif
