/* The listening sockets of the servers (proto/ipc_server.c): non-blocking,
 * close-on-exec. Errors: -EADDRINUSE, -EACCES, -EINVAL (a URL that does not
 * parse or resolve), -EIO, -ENAMETOOLONG, with a reason in err. */
#ifndef ACEXY_PROTO_SP_LISTEN_H
#define ACEXY_PROTO_SP_LISTEN_H

#include <stddef.h>
#include <sys/types.h>

/* hp: "host:port", "[v6]:port", or ":port" / "*:port" (every address, both
 * families where IPv6 is available). url: for the reason. */
int sp_listen_tcp(const char *url, const char *hp, int *ret, char *err, size_t errcap);
/* A socket file nobody answers on is a leftover and is replaced; one that
 * answers belongs to a live process: -EADDRINUSE. The file gets mode 0660;
 * *dev and *ino identify it (to remove only our own at close). */
int sp_listen_ipc(const char *url, const char *path, int *ret, dev_t *dev, ino_t *ino, char *err,
                  size_t errcap);

#endif
