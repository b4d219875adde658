/* GET /ace/playlist.m3u: the IPTV lists of ACEXY_PLAYLIST_SOURCES (http(s)
 * URLs fetched with libcurl, or local files), merged, with every AceStream
 * entry pointing at this proxy (dataplane/m3u_list.h).
 *
 * The sources are read on the control loop (main thread) at start and every
 * ACEXY_PLAYLIST_REFRESH; each source keeps its last good copy, so a refresh
 * that fails (unreachable, not 200, larger than PLAYLIST_FETCH_MAX, slower
 * than PLAYLIST_FETCH_TIMEOUT_S, not an M3U list) changes nothing but a log
 * line. The merged list is an immutable, reference-counted snapshot that
 * worker loops render per request with the request's own scheme and host. */
#ifndef ACEXY_DP_PLAYLIST_H
#define ACEXY_DP_PLAYLIST_H

#include "dataplane/conn.h"

#define PLAYLIST_SOURCES_MAX     ACEXY_SOURCES_MAX
#define PLAYLIST_FETCH_MAX       (32 * 1024 * 1024) /* bytes of one source */
#define PLAYLIST_FETCH_TIMEOUT_S 30
#define PLAYLIST_SOURCE_MEM      (96 * 1024 * 1024) /* one parsed source */

struct playlist;

/* Starts reading the sources (none configured: nothing to do, *ret NULL).
 * -EINVAL when ACEXY_PLAYLIST_SOURCES names more than PLAYLIST_SOURCES_MAX. */
int playlist_start(struct dp *dp, struct playlist **ret);
void playlist_stop(struct playlist *pl);

/* Answers GET /ace/playlist.m3u on a worker loop. */
void playlist_serve(struct conn *c, const struct http_request *req);

#endif
