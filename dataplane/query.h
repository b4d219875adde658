/* A viewer's query string (INTERFACE.md "Viewer HTTP API", CONTRACTS.md §1):
 * the content key (exactly one of id, content_id, infohash, url, magnet;
 * its decoded value must be UTF-8), the dropped parameters (pid, sid: the
 * proxy chooses them; many player URLs carry one), the proxy's own (token,
 * format: not forwarded) and every other parameter, forwarded to the
 * engine in order with its original encoding (but ';', sent as %3B). Names
 * and values are percent-decoded ('+' is a space) for inspection only; a
 * dropped name is recognised however an engine might read it: any ASCII
 * case, with whitespace or other bytes outside printable ASCII around it.
 * Pure and bounded: at most QUERY_MAX_PARAMS parameters and QUERY_TEXT_MAX
 * bytes. */
#ifndef ACEXY_DP_QUERY_H
#define ACEXY_DP_QUERY_H

#include <stdbool.h>
#include <stddef.h>

#define QUERY_MAX_PARAMS 64
#define QUERY_TEXT_MAX   16384 /* the default ACEXY_MAX_HEADER_BYTES */

struct viewer_query;

/* Parses `raw` (the query without '?'). On error returns -EINVAL (or
 * -ENOMEM) and writes a one-line reason naming the parameter into err
 * (for the viewer's 400 answer). */
int viewer_query_parse(const char *raw, size_t len, struct viewer_query **ret, char *err,
                       size_t errcap);
/* Accepts NULL. */
void viewer_query_free(struct viewer_query *q);
/* "content_id" (for id and content_id), "infohash", "url" or "magnet". */
const char *viewer_query_key_type(const struct viewer_query *q);
/* The decoded content key. */
const char *viewer_query_key(const struct viewer_query *q);
/* The decoded value of the first parameter with this decoded name, or NULL
 * (e.g. the proxy's "token"). */
const char *viewer_query_get(const struct viewer_query *q, const char *name);
/* Key for sharing one engine session among viewers (multiplex): the key
 * type, the key and every forwarded parameter (transcode_audio,
 * preferred_audio_language, unknown flags: any may change the bytes),
 * decoded, sorted, re-encoded canonically so that it is unambiguous and the
 * viewers' spelling (%5F or _) does not matter. An infohash is lowercased. */
const char *viewer_query_mux_key(const struct viewer_query *q);
/* How many pid/sid parameters the viewer sent (dropped). */
unsigned viewer_query_dropped_ids(const struct viewer_query *q);
/* Writes the engine's query (without '?'): the content parameter as the
 * viewer sent it, the forwarded parameters in order, raw (a ';' as %3B),
 * then format=json and pid. pid must be non-empty unreserved characters (-EINVAL). Returns
 * 0, or -ENOSPC (buf untouched). */
int viewer_query_engine_query(const struct viewer_query *q, const char *pid, char *buf, size_t cap);

/* Percent-decodes (and '+' → ' ') len bytes into out (NUL-terminated).
 * -EINVAL on a bad escape or a decoded NUL, -ENOSPC if out is too small. */
int query_decode(const char *in, size_t len, char *out, size_t cap);
/* 40 hexadecimal digits. A check for the caller: not enforced here. */
bool query_is_infohash(const char *s);

#endif
