/* The AceStream engine's JSON answers (CONTRACTS.md §1). Pure, bounded. */
#ifndef ACEXY_DP_ENGINE_ANSWER_H
#define ACEXY_DP_ENGINE_ANSWER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ENGINE_ANSWER_MAX (64 * 1024)
#define ENGINE_URL_MAX    1024

struct engine_answer {
	char playback_url[ENGINE_URL_MAX];
	char stat_url[ENGINE_URL_MAX];
	char command_url[ENGINE_URL_MAX];
	char infohash[128];
	char playback_session_id[128];
	bool is_live;
	bool is_encrypted;
};

/* Parses the answer to getstream/manifest.m3u8?format=json. On failure
 * returns -EINVAL with a one-line reason: the engine's own error (string or
 * {message, code}), or what is wrong with the answer. */
int engine_answer_parse(const char *body, size_t len, struct engine_answer *ret, char *reason,
                        size_t cap);

struct engine_stat {
	bool known; /* false: "unknown playback session id" or response null */
	bool empty; /* {"response": {}} (first poll) */
	char status[32];
	int64_t peers;
	int64_t speed_down, speed_up; /* KB/s */
	int64_t downloaded, uploaded; /* bytes */
	double total_progress;
};
int engine_stat_parse(const char *body, size_t len, struct engine_stat *ret);

#endif
