/* The dataplane's hello in pieces: its live streams (full records) and the
 * stream ends it could not deliver go to the controlplane in as many hellos
 * as needed, each within a byte budget, so that no hello ever passes the
 * 1 MiB message cap (PROTO_MSG_MAX) however many streams and ends there are.
 * Every piece is a complete, ordinary hello: the controlplane binds the
 * connection at the first and rebuilds the leases each one names. Pure: no
 * I/O, no logging. */
#ifndef ACEXY_DP_HELLO_CHUNK_H
#define ACEXY_DP_HELLO_CHUNK_H

#include <stddef.h>
#include <stdint.h>

#include "acexy/proto.h"

#define DP_HELLO_BUDGET      (256 * 1024) /* bytes one hello aims to stay within */
#define DP_HELLO_STREAMS_MAX 2000         /* streams per hello (the controlplane takes 4096) */
#define DP_HELLO_ENDED_MAX   4096         /* ends per hello (the controlplane takes 4096) */

/* Orders streams by lease id: the next piece starts after the last lease
 * sent, whatever streams came or went meanwhile. */
void dp_hello_sort(struct proto_stream *s, size_t n);

/* Encodes h carrying the first *ret_ns of h->streams and the first *ret_ne
 * of h->ended: as many as fit within budget bytes (at least one record when
 * there is any, even one bigger than the budget if it fits a message).
 * *ret_buf is malloc'ed. 0, -E2BIG (a single record does not fit a
 * message), -ENOMEM. */
int dp_hello_encode(const struct proto_hello *h, uint64_t id, size_t budget, size_t *ret_ns,
                    size_t *ret_ne, uint8_t **ret_buf, size_t *ret_len);

#endif
