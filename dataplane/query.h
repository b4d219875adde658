/* A viewer's query string: the content key (exactly one of id, content_id,
 * infohash, url, magnet), refused parameters (pid, sid), and the parameters
 * forwarded to the engine with their original encoding. Pure and bounded. */
#ifndef ACEXY_DP_QUERY_H
#define ACEXY_DP_QUERY_H

#include <stddef.h>

#define QUERY_MAX_PARAMS 64

struct viewer_query;

/* Parses `raw` (without '?'). On error writes a one-line reason naming the
 * parameter and returns -EINVAL. */
int viewer_query_parse(const char *raw, size_t len, struct viewer_query **ret, char *err,
                       size_t errcap);
void viewer_query_free(struct viewer_query *q);
/* "content_id" (for id and content_id), "infohash", "url" or "magnet". */
const char *viewer_query_key_type(const struct viewer_query *q);
/* The decoded content key. */
const char *viewer_query_key(const struct viewer_query *q);
/* Key for sharing one engine session: key type, key and the forwarded
 * parameters that change the bytes, sorted. */
const char *viewer_query_mux_key(const struct viewer_query *q);
/* Writes the engine's query: the content parameter as the viewer named it,
 * the forwarded parameters in order (encoding untouched), format=json and
 * pid. Returns 0 or -ENOSPC. */
int viewer_query_engine_query(const struct viewer_query *q, const char *pid, char *buf, size_t cap);
/* Percent-decodes (and '+' → ' ') into out; -EINVAL on bad escapes or NUL. */
int query_decode(const char *in, size_t len, char *out, size_t cap);

#endif
