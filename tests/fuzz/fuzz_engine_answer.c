/* Drives the engine answer parser, the stat parser and the URL splitter
 * with the same bytes, and checks what the relay relies on: a success has
 * an absolute http(s) playback_url that splits, and a failure has a
 * one-line reason. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "acexy/engine_answer.h"

static void check_url(const char *url, bool required)
{
	struct engine_url u;
	if (!url[0] && !required)
		return;
	if (engine_url_split(url, &u) != 0 || !u.host[0] || u.path[0] != '/' || u.port == 0)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct engine_answer a;
	struct engine_stat st;
	char why[256] = "";
	if (engine_answer_parse((const char *)data, size, &a, why, sizeof(why)) == 0) {
		check_url(a.playback_url, true);
		check_url(a.stat_url, false);
		check_url(a.command_url, false);
	} else if (!why[0] || strchr(why, '\n') || strchr(why, '\r')) {
		abort();
	}
	if (engine_stat_parse((const char *)data, size, &st) == 0 &&
	    (strlen(st.status) >= sizeof(st.status) || (!st.known && st.empty)))
		abort();
	/* the input as a URL (up to the first NUL) */
	char url[2048];
	size_t n = size < sizeof(url) - 1 ? size : sizeof(url) - 1;
	memcpy(url, data, n);
	url[n] = '\0';
	struct engine_url u;
	if (engine_url_split(url, &u) == 0) {
		if (!u.host[0] || u.path[0] != '/' || u.port == 0 || strchr(u.path, '#') ||
		    strlen(u.path) > strlen(url))
			abort();
	}
	return 0;
}
