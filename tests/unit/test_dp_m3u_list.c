/* IPTV M3U lists: what is kept as written, what is rewritten, merging by
 * content id, malformed sources, bounds. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dataplane/m3u_list.h"

#define ID1 "0123456789abcdef0123456789abcdef01234567"
#define ID2 "abcdef0123456789abcdef0123456789abcdef01"

static struct m3u_list *parse(const char *in, size_t cap, int *rc, char *err)
{
	struct m3u_list *m = NULL;
	assert_int_equal(m3u_list_new(cap, &m), 0);
	*rc = m3u_list_parse(m, in, strlen(in), err, 256);
	return m;
}

static char *write_list(const struct m3u_list *m, const char *token)
{
	char *out = NULL;
	size_t len = 0;
	assert_int_equal(m3u_list_write(m, "http://tv.lan:8080", token, &out, &len), 0);
	assert_int_equal(strlen(out), len);
	return out;
}

static void test_keeps_attributes_rewrites_ace(void **state)
{
	(void)state;
	int rc;
	char err[256];
	struct m3u_list *m =
	        parse("#EXTM3U url-tvg=\"http://epg/g.xml\" x-tvg-url=\"http://epg/g.xml\"\n"
	              "#EXTINF:-1 tvg-id=\"one.es\" tvg-logo=\"http://l/1.png\" "
	              "group-title=\"Sport\",Uno HD\n"
	              "acestream://" ID1 "\n"
	              "#EXTINF:-1 group-title=\"Radio\",Plain\n"
	              "#EXTVLCOPT:http-referrer=http://x/\n"
	              "http://radio.example/stream.mp3\n",
	              1 << 20, &rc, err);
	assert_int_equal(rc, 0);
	assert_int_equal(m3u_list_entries(m), 2);
	char *out = write_list(m, NULL);
	assert_string_equal(out,
	                    "#EXTM3U url-tvg=\"http://epg/g.xml\" x-tvg-url=\"http://epg/g.xml\"\n"
	                    "#EXTINF:-1 tvg-id=\"one.es\" tvg-logo=\"http://l/1.png\" "
	                    "group-title=\"Sport\",Uno HD\n"
	                    "http://tv.lan:8080/ace/getstream?id=" ID1 "\n"
	                    "#EXTINF:-1 group-title=\"Radio\",Plain\n"
	                    "#EXTVLCOPT:http-referrer=http://x/\n"
	                    "http://radio.example/stream.mp3\n");
	free(out);
	out = write_list(m, "s3cr&t x");
	assert_non_null(strstr(out, "/ace/getstream?id=" ID1 "&token=s3cr%26t%20x\n"));
	free(out);
	m3u_list_free(m);
}

static void test_ace_forms(void **state)
{
	(void)state;
	char id[41];
	assert_int_equal(m3u_ace_ref("acestream://" ID1, 52, id), M3U_ACE_ID);
	assert_string_equal(id, ID1);
	assert_int_equal(
	        m3u_ace_ref("ACESTREAM://0123456789ABCDEF0123456789ABCDEF01234567", 52, id),
	        M3U_ACE_ID);
	assert_string_equal(id, ID1); /* lower-cased */
	const char *u = "ace://" ID2;
	assert_int_equal(m3u_ace_ref(u, strlen(u), id), M3U_ACE_ID);
	u = "http://127.0.0.1:6878/ace/getstream?pid=1&id=" ID2 "&x=y";
	assert_int_equal(m3u_ace_ref(u, strlen(u), id), M3U_ACE_ID);
	assert_string_equal(id, ID2);
	u = "https://proxy.example/a/ace/getstream?content_id=" ID1;
	assert_int_equal(m3u_ace_ref(u, strlen(u), id), M3U_ACE_ID);
	u = "http://e:6878/ace/getstream?infohash=" ID1;
	assert_int_equal(m3u_ace_ref(u, strlen(u), id), M3U_ACE_HASH);
	/* not AceStream, or not an id */
	const char *no[] = {"acestream://123",
	                    "acestream://" ID1 "0",
	                    "http://e/ace/getstream?id=xyz",
	                    "http://e/ace/manifest.m3u8?id=" ID1,
	                    "http://e/other?id=" ID1,
	                    "http://e/ace/getstream#?id=" ID1,
	                    "rtmp://e/ace/getstream?id=" ID1,
	                    "http://e?id=" ID1,
	                    ""};
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
		assert_int_equal(m3u_ace_ref(no[i], strlen(no[i]), id), M3U_OTHER);
	assert_int_equal(m3u_ace_ref("acestream://" ID1 "?x", 54, id), M3U_ACE_ID);
}

static void test_bom_crlf_blank_missing_extinf(void **state)
{
	(void)state;
	int rc;
	char err[256];
	struct m3u_list *m = parse("\xef\xbb\xbf#EXTM3U\r\n\r\n# a comment\r\n"
	                           "ace://" ID2 "\r\n  http://a/b.ts  \r\r"
	                           "#EXTINF:-1,Last\rhttp://c/d\r\n# end of list",
	                           1 << 20, &rc, err);
	assert_int_equal(rc, 0);
	assert_int_equal(m3u_list_entries(m), 3);
	char *out = write_list(m, "");
	assert_string_equal(out, "#EXTM3U\n# a comment\n"
	                         "http://tv.lan:8080/ace/getstream?id=" ID2 "\n"
	                         "http://a/b.ts\n#EXTINF:-1,Last\nhttp://c/d\n# end of list\n");
	free(out);
	m3u_list_free(m);
}

static void test_utf8(void **state)
{
	(void)state;
	int rc;
	char err[256];
	/* valid UTF-8 kept; a Latin-1 byte and a truncated sequence become U+FFFD */
	struct m3u_list *m = parse("#EXTM3U\n#EXTINF:-1,Espa\xc3\xb1"
	                           "a \xe6\x97\xa5 Caf\xe9\n"
	                           "http://x/\xe2\x82\n",
	                           1 << 20, &rc, err);
	assert_int_equal(rc, 0);
	char *out = write_list(m, NULL);
	assert_string_equal(out, "#EXTM3U\n#EXTINF:-1,Espa\xc3\xb1"
	                         "a \xe6\x97\xa5 Caf\xef\xbf\xbd\n"
	                         "http://x/\xef\xbf\xbd\xef\xbf\xbd\n");
	free(out);
	m3u_list_free(m);
}

static void test_malformed(void **state)
{
	(void)state;
	int rc;
	char err[256];
	const char *bad[] = {"",
	                     "\n\n",
	                     "<html><body>502</body></html>",
	                     "http://a/b.ts\n#EXTM3U\n",
	                     "#EXTM3Ux\n",
	                     "#EXTM3U\nhttp://a/\0b"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct m3u_list *m = NULL;
		assert_int_equal(m3u_list_new(1 << 20, &m), 0);
		size_t len = i == 5 ? 20 : strlen(bad[i]);
		err[0] = '\0';
		assert_int_equal(m3u_list_parse(m, bad[i], len, err, sizeof(err)), -EINVAL);
		assert_true(err[0] != '\0');
		assert_int_equal(m3u_list_entries(m), 0);
		m3u_list_free(m);
	}
	/* a line too long */
	size_t n = M3U_LINE_MAX + 100;
	char *big = malloc(n + 20);
	memcpy(big, "#EXTM3U\nhttp://", 15);
	memset(big + 15, 'a', n);
	big[15 + n] = '\0';
	struct m3u_list *m = parse(big, 1 << 20, &rc, err);
	assert_int_equal(rc, -EINVAL);
	assert_non_null(strstr(err, "too long"));
	m3u_list_free(m);
	free(big);
	/* a parse into a list that has entries is refused */
	m = parse("#EXTM3U\nhttp://a/\n", 1 << 20, &rc, err);
	assert_int_equal(rc, 0);
	assert_int_equal(m3u_list_parse(m, "#EXTM3U\n", 8, err, sizeof(err)), -EINVAL);
	m3u_list_free(m);
}

static void test_merge_dedupes_across_sources(void **state)
{
	(void)state;
	int rc;
	char err[256];
	struct m3u_list *a = parse("#EXTM3U url-tvg=\"a.xml\"\n#EXTINF:-1,A1\nacestream://" ID1
	                           "\n#EXTINF:-1,A1 again\nacestream://" ID1 "\n",
	                           1 << 20, &rc, err);
	assert_int_equal(rc, 0);
	struct m3u_list *b = parse("#EXTM3U url-tvg=\"b.xml\" x-tvg-url=\"b2.xml\"\n"
	                           "#EXTINF:-1,B dup\nhttp://e:6878/ace/getstream?id=" ID1 "\n"
	                           "#EXTINF:-1,B hash\nhttp://e:6878/ace/getstream?infohash=" ID1
	                           "\n#EXTINF:-1,B2\nace://" ID2 "\n#EXTINF:-1,web\nhttp://w/x\n",
	                           1 << 20, &rc, err);
	assert_int_equal(rc, 0);
	struct m3u_list *all = NULL;
	assert_int_equal(m3u_list_new(1 << 20, &all), 0);
	assert_int_equal(m3u_list_merge(all, a), 0);
	assert_int_equal(m3u_list_merge(all, b), 0);
	assert_int_equal(m3u_list_entries(all), 5);
	char *out = write_list(all, NULL);
	assert_string_equal(out,
	                    "#EXTM3U url-tvg=\"a.xml\" x-tvg-url=\"b2.xml\"\n"
	                    "#EXTINF:-1,A1\nhttp://tv.lan:8080/ace/getstream?id=" ID1 "\n"
	                    "#EXTINF:-1,A1 again\nhttp://tv.lan:8080/ace/getstream?id=" ID1
	                    "\n#EXTINF:-1,B hash\nhttp://tv.lan:8080/ace/getstream?infohash=" ID1
	                    "\n#EXTINF:-1,B2\nhttp://tv.lan:8080/ace/getstream?id=" ID2 "\n"
	                    "#EXTINF:-1,web\nhttp://w/x\n");
	free(out);
	m3u_list_free(a);
	m3u_list_free(b);
	m3u_list_free(all);
}

static void test_hundred_thousand_entries_within_cap(void **state)
{
	(void)state;
	size_t n = 100000, cap = n * 200;
	int rc;
	char *in = malloc(cap), *p = in;
	p += sprintf(p, "#EXTM3U\n");
	for (size_t i = 0; i < n; i++)
		p += sprintf(p, "#EXTINF:-1 group-title=\"G%zu\",Channel %zu\nacestream://%040zx\n",
		             i % 50, i, i);
	struct m3u_list *m = NULL;
	char err[256];
	assert_int_equal(m3u_list_new(32 << 20, &m), 0);
	rc = m3u_list_parse(m, in, (size_t)(p - in), err, sizeof(err));
	if (rc)
		print_error("%s (%zu bytes in)\n", err, (size_t)(p - in));
	assert_int_equal(rc, 0);
	assert_int_equal(m3u_list_entries(m), n);
	assert_true(m3u_list_memory(m) <= 32 << 20);
	struct m3u_list *all = NULL;
	assert_int_equal(m3u_list_new(32 << 20, &all), 0);
	assert_int_equal(m3u_list_merge(all, m), 0);
	assert_int_equal(m3u_list_merge(all, m), 0); /* every one a duplicate */
	assert_int_equal(m3u_list_entries(all), n);
	char *out = NULL;
	size_t len;
	assert_int_equal(m3u_list_write(all, "http://h", "tok", &out, &len), 0);
	assert_non_null(strstr(out, "Channel 99999\nhttp://h/ace/getstream?id="));
	free(out);
	m3u_list_free(all);
	m3u_list_free(m);
	/* the same list with a 1 MiB cap: refused, the list left empty */
	assert_int_equal(m3u_list_new(1 << 20, &m), 0);
	assert_int_equal(m3u_list_parse(m, in, (size_t)(p - in), err, sizeof(err)), -E2BIG);
	assert_non_null(strstr(err, "memory cap"));
	assert_int_equal(m3u_list_entries(m), 0);
	assert_true(m3u_list_memory(m) <= 1 << 20);
	m3u_list_free(m);
	free(in);
}

static void test_merge_cap(void **state)
{
	(void)state;
	int rc;
	char err[256];
	struct m3u_list *a = parse("#EXTM3U\n#EXTINF:-1,x\nhttp://a/\n", 1 << 20, &rc, err);
	struct m3u_list *small = NULL;
	assert_int_equal(m3u_list_new(sizeof(void *) * 16, &small), 0);
	assert_int_equal(m3u_list_merge(small, a), -E2BIG);
	assert_int_equal(m3u_list_entries(small), 0);
	m3u_list_free(small);
	m3u_list_free(a);
	m3u_list_free(NULL);
	struct m3u_list *x;
	assert_int_equal(m3u_list_new((size_t)M3U_MEM_MAX + 1, &x), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	        cmocka_unit_test(test_keeps_attributes_rewrites_ace),
	        cmocka_unit_test(test_ace_forms),
	        cmocka_unit_test(test_bom_crlf_blank_missing_extinf),
	        cmocka_unit_test(test_utf8),
	        cmocka_unit_test(test_malformed),
	        cmocka_unit_test(test_merge_dedupes_across_sources),
	        cmocka_unit_test(test_hundred_thousand_entries_within_cap),
	        cmocka_unit_test(test_merge_cap),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
