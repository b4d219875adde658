/* HLS playlist rewriting: every URI kind, resolution, bounds, bad input. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dataplane/hls_playlist.h"

static char seen[16][512];
static int nseen;

static int map(void *ud, const char *abs, char *out, size_t cap)
{
	(void)ud;
	if (nseen < 16)
		snprintf(seen[nseen], sizeof(seen[0]), "%s", abs);
	char ext[8];
	hls_url_ext(abs, ext, sizeof(ext));
	snprintf(out, cap, "hls/S/%d%s%s", nseen++, ext[0] ? "." : "", ext);
	return 0;
}

static int map_fail(void *ud, const char *abs, char *out, size_t cap)
{
	(void)ud;
	(void)abs;
	(void)out;
	(void)cap;
	return -1;
}

static char *rewrite(const char *in, const char *base, int *rc)
{
	char *out = NULL, err[256] = "";
	size_t len;
	nseen = 0;
	*rc = hls_rewrite(in, strlen(in), base, map, NULL, &out, &len, err, sizeof(err));
	if (*rc == 0)
		assert_int_equal(strlen(out), len);
	return out;
}

static void test_media_playlist(void **state)
{
	(void)state;
	int rc;
	char *out = rewrite("#EXTM3U\r\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:1\n"
	                    "#EXT-X-MEDIA-SEQUENCE:7\n#EXTINF:1.000,\n/ace/c/ab/7.ts\n"
	                    "#EXTINF:1.000,\n  8.ts?x=1  \n# a comment\n\n"
	                    "#EXTINF:1.0,\nhttp://other:81/seg/9.TS\n",
	                    "http://127.0.0.1:6878/ace/m/ab/tok.m3u8", &rc);
	assert_int_equal(rc, 0);
	assert_string_equal(out, "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:1\n"
	                         "#EXT-X-MEDIA-SEQUENCE:7\n#EXTINF:1.000,\nhls/S/0.ts\n"
	                         "#EXTINF:1.000,\nhls/S/1.ts\n# a comment\n\n"
	                         "#EXTINF:1.0,\nhls/S/2.ts\n");
	assert_string_equal(seen[0], "http://127.0.0.1:6878/ace/c/ab/7.ts");
	assert_string_equal(seen[1], "http://127.0.0.1:6878/ace/m/ab/8.ts?x=1");
	assert_string_equal(seen[2], "http://other:81/seg/9.TS");
	free(out);
}

static void test_attributes_and_master(void **state)
{
	(void)state;
	int rc;
	char *out =
	        rewrite("\xef\xbb\xbf#EXTM3U\n"
	                "#EXT-X-KEY:METHOD=AES-128,URI=\"key.bin\",IV=0x1\n"
	                "#EXT-X-MAP:URI=\"init.mp4\"\n"
	                "#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"a\",NAME=\"en\",URI=\"audio/en.m3u8\"\n"
	                "#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH=1,URI=\"/if.m3u8\"\n"
	                "#EXT-X-STREAM-INF:BANDWIDTH=4000000,AUDIO=\"a\"\nv/index.m3u8\n"
	                "#EXT-X-SESSION-DATA:DATA-ID=\"x\",VALUE=\"URI=\\\"no\"\n",
	                "https://e.example/base/master.m3u8", &rc);
	assert_int_equal(rc, 0);
	assert_non_null(strstr(out, "#EXT-X-KEY:METHOD=AES-128,URI=\"hls/S/0.bin\",IV=0x1\n"));
	assert_non_null(strstr(out, "#EXT-X-MAP:URI=\"hls/S/1.mp4\"\n"));
	assert_non_null(strstr(out, "NAME=\"en\",URI=\"hls/S/2.m3u8\"\n"));
	assert_non_null(strstr(out, "BANDWIDTH=1,URI=\"hls/S/3.m3u8\"\n"));
	assert_non_null(strstr(out, "AUDIO=\"a\"\nhls/S/4.m3u8\n"));
	assert_string_equal(seen[0], "https://e.example/base/key.bin");
	assert_string_equal(seen[3], "https://e.example/if.m3u8");
	/* a value that merely contains URI=" is not an attribute */
	assert_non_null(strstr(out, "VALUE=\"URI=\\\"no\"\n"));
	assert_int_equal(nseen, 5);
	free(out);
}

static void test_bad_input(void **state)
{
	(void)state;
	char *out = NULL, err[256];
	size_t len;
	assert_int_equal(
	        hls_rewrite("<html>", 6, "http://e/", map, NULL, &out, &len, err, sizeof(err)),
	        -EINVAL);
	assert_non_null(strstr(err, "#EXTM3U"));
	assert_int_equal(hls_rewrite("", 0, "http://e/", map, NULL, &out, &len, err, sizeof(err)),
	                 -EINVAL);
	const char unterminated[] = "#EXTM3U\n#EXT-X-KEY:URI=\"abc\n";
	assert_int_equal(hls_rewrite(unterminated, strlen(unterminated), "http://e/", map, NULL,
	                             &out, &len, err, sizeof(err)),
	                 -EINVAL);
	const char nul[] = "#EXTM3U\na\0b.ts\n";
	assert_int_equal(hls_rewrite(nul, sizeof(nul) - 1, "http://e/", map, NULL, &out, &len, err,
	                             sizeof(err)),
	                 -EINVAL);
	const char ok[] = "#EXTM3U\nseg.ts\n";
	assert_int_equal(hls_rewrite(ok, strlen(ok), "http://e/", map_fail, NULL, &out, &len, err,
	                             sizeof(err)),
	                 -EINVAL);
	/* a scheme that is not http(s) */
	const char ftp[] = "#EXTM3U\nftp://x/seg.ts\n";
	assert_int_equal(
	        hls_rewrite(ftp, strlen(ftp), "http://e/", map, NULL, &out, &len, err, sizeof(err)),
	        -EINVAL);
	/* too large */
	size_t big = HLS_PLAYLIST_MAX + 1;
	char *huge = malloc(big);
	assert_non_null(huge);
	memset(huge, '#', big);
	memcpy(huge, "#EXTM3U\n", 8);
	assert_int_equal(
	        hls_rewrite(huge, big, "http://e/", map, NULL, &out, &len, err, sizeof(err)),
	        -E2BIG);
	/* a URI over HLS_URI_MAX */
	memset(huge, 'a', big);
	memcpy(huge, "#EXTM3U\n", 8);
	huge[8 + HLS_URI_MAX + 10] = '\n';
	assert_int_equal(hls_rewrite(huge, 8 + HLS_URI_MAX + 11, "http://e/", map, NULL, &out, &len,
	                             err, sizeof(err)),
	                 -EINVAL);
	free(huge);
}

static void test_ext(void **state)
{
	(void)state;
	char e[8];
	hls_url_ext("http://e/a/b.TS?x=1.m3u8", e, sizeof(e));
	assert_string_equal(e, "ts");
	hls_url_ext("http://e/a.b/key", e, sizeof(e));
	assert_string_equal(e, "");
	hls_url_ext("http://e/a/x.toolong", e, sizeof(e));
	assert_string_equal(e, "");
	hls_url_ext("http://e/a/x.m-3", e, sizeof(e));
	assert_string_equal(e, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_media_playlist),
	        cmocka_unit_test(test_attributes_and_master),
	        cmocka_unit_test(test_bad_input),
	        cmocka_unit_test(test_ext),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
