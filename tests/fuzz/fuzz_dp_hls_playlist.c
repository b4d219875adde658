/* Any bytes as an engine's HLS playlist: rewritten or refused with a
 * reason; every URI handed to the map is an absolute http(s) URL; the
 * output stays within the bounds. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dataplane/hls_playlist.h"

static int map(void *ud, const char *abs, char *out, size_t cap)
{
	if (strncasecmp(abs, "http://", 7) != 0 && strncasecmp(abs, "https://", 8) != 0)
		abort();
	++*(int *)ud;
	char ext[8];
	hls_url_ext(abs, ext, sizeof(ext));
	if (strlen(ext) > 5)
		abort();
	return snprintf(out, cap, "hls/s/%d.%s", *(int *)ud, ext) < (int)cap ? 0 : -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *out = NULL, err[256] = "";
	size_t len = 0;
	int n = 0;
	int rc = hls_rewrite((const char *)data, size, "http://127.0.0.1:6878/ace/m/ih/tok.m3u8",
	                     map, &n, &out, &len, err, sizeof(err));
	if (rc == 0) {
		if (!out || strlen(out) != len || len > HLS_PLAYLIST_MAX)
			abort();
		free(out);
	} else if (!err[0] || out) {
		abort();
	}
	return 0;
}
