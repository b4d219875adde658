/* The AceStream engine's JSON answers (CONTRACTS.md §1), parsed with
 * jansson. Pure: no I/O, no logging. Bounded: an answer is at most
 * ENGINE_ANSWER_MAX bytes (larger is refused before parsing); jansson itself
 * refuses nesting deeper than 2048 (JSON_PARSER_MAX_DEPTH), and within 64 KiB
 * that depth costs no more than a few hundred KiB of stack and heap; strings
 * kept are copied into fixed fields and refused when longer. */
#ifndef ACEXY_ENGINE_ANSWER_H
#define ACEXY_ENGINE_ANSWER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ENGINE_ANSWER_MAX (64 * 1024)
#define ENGINE_URL_MAX    1024
#define ENGINE_HOST_MAX   256

/* The answer to getstream?format=json (or manifest.m3u8?format=json). */
struct engine_answer {
	char playback_url[ENGINE_URL_MAX]; /* absolute http(s), always set */
	char stat_url[ENGINE_URL_MAX];     /* absolute http(s) or "" */
	char command_url[ENGINE_URL_MAX];  /* absolute http(s) or "" */
	char infohash[128];
	char playback_session_id[128];
	bool is_live;
	bool is_encrypted;
};

/* Returns 0, or -EINVAL with a one-line reason in `reason`: the engine's
 * own error (string, or {message, code}), "engine answered with invalid
 * JSON", or what is wrong with the answer (no playback_url, a relative
 * URL, a field too long...). *ret is written only on success. */
int engine_answer_parse(const char *body, size_t len, struct engine_answer *ret, char *reason,
                        size_t cap);

/* The answer to stat_url. */
struct engine_stat {
	bool known;      /* false: {"response": null, "error": "unknown playback session id"} */
	bool empty;      /* {"response": {}} (the first poll) */
	char status[32]; /* "prebuf", "dl", ... ("" if absent; cut if longer) */
	int64_t peers;
	int64_t speed_down, speed_up; /* KB/s ("speedDown"/"speedUp" accepted) */
	int64_t downloaded, uploaded; /* bytes */
	double total_progress;
};
/* Returns 0, or -EINVAL for anything that is not one of those shapes
 * (numbers absent or of another type read as 0). */
int engine_stat_parse(const char *body, size_t len, struct engine_stat *ret);

/* An absolute http(s) URL split for the relay's own requests. */
struct engine_url {
	bool https;
	char host[ENGINE_HOST_MAX]; /* as written; an IPv6 literal keeps its [] */
	uint16_t port;              /* 80/443 when absent */
	char path[ENGINE_URL_MAX];  /* path and query, at least "/"; no fragment */
};
/* -EINVAL unless scheme://host[:port][/path][?query][#fragment] with scheme
 * http or https, a non-empty host, no userinfo, a port 1..65535, no control
 * characters or spaces; -E2BIG when the host or path do not fit. */
int engine_url_split(const char *url, struct engine_url *ret);

#endif
