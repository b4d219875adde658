/* URLs the controlplane will call (a stream's stat_url and command_url, as a
 * dataplane declares them) must be on the engine the lease names. Pure: no
 * I/O, no logging. */
#ifndef ACEXY_CP_ENGINE_URL_H
#define ACEXY_CP_ENGINE_URL_H

#include <stdbool.h>

/* Is `url` empty, or an http(s) URL whose authority is exactly host:port
 * (host compared without case, IPv6 in brackets, no user info, the
 * scheme's default port when none is given)? */
bool engine_url_on(const char *url, const char *host, unsigned port);

#endif
