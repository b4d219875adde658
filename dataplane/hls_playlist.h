/* HLS playlists (RFC 8216) through the proxy: every URI of a playlist — the
 * lines that are not tags, and the URI="…" attributes of EXT-X-KEY,
 * EXT-X-MAP, EXT-X-MEDIA, EXT-X-I-FRAME-STREAM-INF, EXT-X-SESSION-KEY,
 * EXT-X-PRELOAD-HINT, EXT-X-RENDITION-REPORT, EXT-X-PART — is resolved
 * against the playlist's own URL and replaced by what the caller's map
 * function returns (a relative proxy path). Pure and bounded: no I/O. */
#ifndef ACEXY_DP_HLS_PLAYLIST_H
#define ACEXY_DP_HLS_PLAYLIST_H

#include <stddef.h>

#define HLS_PLAYLIST_MAX (1024 * 1024) /* bytes in, and out */
#define HLS_URI_MAX      4096

/* Writes the replacement for the absolute URL `abs` into out (NUL-
 * terminated); returns 0, or <0 to fail the rewrite. */
typedef int (*hls_map_fn)(void *ud, const char *abs, char *out, size_t cap);

/* Returns 0 with a malloc'ed NUL-terminated result, or -EINVAL (not a
 * playlist: no #EXTM3U first line; a URI that cannot be resolved or
 * mapped; a line or URI too long) or -E2BIG / -ENOMEM, with a one-line
 * reason in err. */
int hls_rewrite(const char *in, size_t len, const char *base_url, hls_map_fn map, void *ud,
                char **ret, size_t *ret_len, char *err, size_t errcap);

/* Resolves `ref` against `base` into out (absolute http(s) URL only). */
int hls_resolve(const char *base, const char *ref, char *out, size_t cap);

/* The lower-case extension of a URL's path ("ts", "m3u8", "key"; up to 5
 * alphanumerics), or "" when it has none. */
void hls_url_ext(const char *url, char *out, size_t cap);

#endif
