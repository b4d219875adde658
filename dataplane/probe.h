/* GET /ace/probe?id=… (probe.c). */
#ifndef ACEXY_DP_PROBE_H
#define ACEXY_DP_PROBE_H

#include "dataplane/conn.h"

/* Answers the request on c (raw: its query) once the engine said. */
void probe_begin(struct conn *c, const char *raw);

#endif
