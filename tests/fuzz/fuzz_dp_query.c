/* Parses a viewer query and checks what is built from it: the engine query
 * keeps the content parameter first and ends with format=json&pid=, and
 * parsing the forwarded part again gives the same content key and
 * multiplex key (forwarding is faithful); no reading of the forwarded part
 * (split on '&' or ';', decoded, any case, trimmed) finds a pid or sid:
 * the proxy's own is the engine's only one. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "dataplane/query.h"

#define TAIL "format=json&pid=0123456789abcdef"

static bool lenient_id(const char *p, size_t n)
{
	char name[QUERY_TEXT_MAX + 1];
	const char *eq = memchr(p, '=', n);
	if (query_decode(p, eq ? (size_t)(eq - p) : n, name, sizeof(name)) != 0)
		return false;
	char *b = name, *e = name + strlen(name);
	while (b < e && ((unsigned char)*b <= ' ' || (unsigned char)*b >= 0x7f))
		b++;
	while (e > b && ((unsigned char)e[-1] <= ' ' || (unsigned char)e[-1] >= 0x7f))
		e--;
	return e - b == 3 && (strncasecmp(b, "pid", 3) == 0 || strncasecmp(b, "sid", 3) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct viewer_query *q = NULL;
	char err[256] = "";
	if (viewer_query_parse((const char *)data, size, &q, err, sizeof(err)) != 0) {
		if (!err[0] || q)
			abort();
		return 0;
	}
	static char buf[3 * QUERY_TEXT_MAX + 64]; /* every byte a ';' sent as %3B */
	const char *type = viewer_query_key_type(q), *mux = viewer_query_mux_key(q);
	if (!viewer_query_key(q)[0] || !mux || strncmp(mux, type, strlen(type)) != 0 ||
	    mux[strlen(type)] != ':')
		abort();
	for (const char *c = mux; *c; c++)
		if ((unsigned char)*c <= ' ' || (unsigned char)*c >= 0x7f)
			abort();
	if (viewer_query_engine_query(q, "0123456789abcdef", buf, sizeof(buf)) != 0)
		abort();
	size_t len = strlen(buf);
	if (len < strlen(TAIL) || strcmp(buf + len - strlen(TAIL), TAIL) != 0)
		abort();
	buf[len - strlen(TAIL)] = '\0';
	for (const char *p = buf; *p;) {
		size_t n = strcspn(p, "&;");
		if (lenient_id(p, n))
			abort();
		p += n + (p[n] != '\0');
	}
	struct viewer_query *again = NULL;
	if (viewer_query_parse(buf, strlen(buf), &again, err, sizeof(err)) != 0)
		abort();
	if (strcmp(viewer_query_mux_key(again), mux) != 0 ||
	    strcmp(viewer_query_key(again), viewer_query_key(q)) != 0)
		abort();
	viewer_query_free(again);
	viewer_query_free(q);
	return 0;
}
