/* IPTV M3U playlists (the "#EXTM3U / #EXTINF:-1 attrs,Name / URL" lists
 * players load), parsed, merged across sources and written back with every
 * AceStream entry pointing at this proxy (INTERFACE.md /ace/playlist.m3u).
 *
 * Pure and bounded: no I/O, no logging. Everything a list holds (its text,
 * its entries, its index of content ids) is counted against the list's own
 * memory cap; beyond it the parse or merge fails with -E2BIG and the list
 * is left as it was.
 *
 * What is kept: the #EXTM3U line's attributes (url-tvg, x-tvg-url, ...), and
 * per entry every '#' line before its location (#EXTINF with its attributes
 * and name, #EXTGRP, #EXTVLCOPT, #KODIPROP, comments) exactly as written.
 * What changes: a UTF-8 BOM is dropped, CRLF/CR line ends become LF, blank
 * lines go, bytes that are not UTF-8 become U+FFFD, and an AceStream location
 * (acestream://ID, ace://ID, http(s)://…/ace/getstream?id=ID, content_id= or
 * infohash=) is written as the proxy's own /ace/getstream URL. */
#ifndef ACEXY_DP_M3U_LIST_H
#define ACEXY_DP_M3U_LIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define M3U_LINE_MAX   (32 * 1024)         /* longer lines make a list malformed */
#define M3U_HEAD_ATTRS 64                  /* attributes kept on the #EXTM3U line */
#define M3U_MEM_MAX    (256 * 1024 * 1024) /* the largest cap a caller may give */

enum m3u_kind {
	M3U_OTHER,    /* kept as written */
	M3U_ACE_ID,   /* a content id: ?id= */
	M3U_ACE_HASH, /* an infohash: ?infohash= (the engine tells them apart) */
};

struct m3u_list;

/* An empty list whose memory stays within mem_cap bytes (at most M3U_MEM_MAX). */
int m3u_list_new(size_t mem_cap, struct m3u_list **ret);
void m3u_list_free(struct m3u_list *m);

/* Parses one source. -EINVAL (not an M3U list: no #EXTM3U first line, a NUL
 * byte, a line longer than M3U_LINE_MAX) or -E2BIG (beyond the memory cap)
 * with a one-line reason in err, and the list unchanged; 0 otherwise. */
int m3u_list_parse(struct m3u_list *m, const char *in, size_t len, char *err, size_t errcap);

/* Appends src's entries to dst, except AceStream entries whose content dst
 * already has (from an earlier source: duplicates within one source are
 * kept, a list may name a channel in two groups); header attributes whose
 * name dst lacks are added. -E2BIG (dst unchanged) beyond dst's cap. */
int m3u_list_merge(struct m3u_list *dst, const struct m3u_list *src);

size_t m3u_list_entries(const struct m3u_list *m);
size_t m3u_list_memory(const struct m3u_list *m);

/* The list as M3U text: "#EXTM3U<attributes>" and each entry, LF line ends.
 * AceStream locations become <base>/ace/getstream?id=ID (or ?infohash=ID),
 * plus &token=<token, percent-encoded> when token is non-empty. base is
 * "scheme://host[:port]". Returns 0 with a malloc'ed NUL-terminated text. */
int m3u_list_write(const struct m3u_list *m, const char *base, const char *token, char **ret,
                   size_t *ret_len);

/* Whether a location names AceStream content: its kind and the id (40 hex
 * digits, lower-cased, into id[41]). */
enum m3u_kind m3u_ace_ref(const char *url, size_t len, char id[41]);

#endif
