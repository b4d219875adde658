/* Internals shared by ipc.c (mailbox, client) and the servers (ipc_server.c,
 * sp_tls.c). */
#ifndef ACEXY_PROTO_IPC_INT_H
#define ACEXY_PROTO_IPC_INT_H

#include <nng/nng.h>
#include <nng/supplemental/tls/tls.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "acexy/ipc.h"

bool ipc_url_is_tls(const char *url);
/* A PEM file (at most 256 KiB), NUL-terminated, malloc'ed; NULL with a
 * reason in err. `what` names it in the reason ("certificate", "key"). */
char *ipc_read_pem(const char *path, char *err, size_t errcap, const char *what);
bool ipc_url_is_ipc(const char *url);

#endif
