/* Any bytes as an IPTV playlist source: parsed or refused with a reason
 * (the list left empty), merged with itself within the memory cap, and
 * written back as UTF-8 text that starts with #EXTM3U. The first byte picks
 * the memory cap, so the cap's failure paths are driven too. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dataplane/m3u_list.h"

static void check_utf8(const unsigned char *s, size_t n)
{
	for (size_t i = 0; i < n;) {
		unsigned char c = s[i];
		size_t l = c < 0x80 ? 1 : c < 0xe0 ? 2 : c < 0xf0 ? 3 : 4;
		if (c >= 0x80 && c < 0xc2)
			abort();
		if (i + l > n)
			abort();
		for (size_t k = 1; k < l; k++)
			if ((s[i + k] & 0xc0) != 0x80)
				abort();
		i += l;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t cap = 4096 + (size ? (size_t)data[0] * 1024 : 0);
	struct m3u_list *a = NULL, *all = NULL;
	if (m3u_list_new(cap, &a) < 0 || m3u_list_new(cap * 3, &all) < 0)
		abort();
	char err[256] = "";
	int rc = m3u_list_parse(a, (const char *)data, size, err, sizeof(err));
	if (rc < 0 && (!err[0] || m3u_list_entries(a) != 0))
		abort();
	if (m3u_list_memory(a) > cap)
		abort();
	if (rc == 0) {
		if (m3u_list_merge(all, a) == 0) {
			size_t n1 = m3u_list_entries(all);
			if (m3u_list_merge(all, a) == 0 && m3u_list_entries(all) < n1)
				abort();
		}
		if (m3u_list_memory(all) > cap * 3)
			abort();
		char *out = NULL;
		size_t len = 0;
		if (m3u_list_write(all, "http://127.0.0.1:8080", "t k&n", &out, &len) == 0) {
			if (strlen(out) != len || strncmp(out, "#EXTM3U", 7) != 0)
				abort();
			check_utf8((const unsigned char *)out, len);
			/* what was written parses again */
			struct m3u_list *b = NULL;
			if (m3u_list_new(M3U_MEM_MAX, &b) < 0 ||
			    m3u_list_parse(b, out, len, err, sizeof(err)) < 0)
				abort();
			m3u_list_free(b);
			free(out);
		}
	}
	char id[41];
	if (m3u_ace_ref((const char *)data, size, id) != M3U_OTHER && strlen(id) != 40)
		abort();
	m3u_list_free(a);
	m3u_list_free(all);
	return 0;
}
