/* GET /ace/probe?id=… (probe.c). */
#ifndef ACEXY_DP_PROBE_H
#define ACEXY_DP_PROBE_H

#include "dataplane/conn.h"

/* Answers the request on c (raw: its query) once the engine said. */
void probe_begin(struct conn *c, const char *raw);
/* Multiplex mode: a probe handed to the loop owning the content's shared TS
 * stream (hls false) or then its shared HLS stream (hls true). */
void probe_adopt(struct conn *c, const char *raw, bool hls);

#endif
