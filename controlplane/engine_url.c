/* Is a URL a dataplane declared on the engine of its lease? Pure. */
#include "controlplane/engine_url.h"

#include <string.h>
#include <strings.h>

bool engine_url_on(const char *url, const char *host, unsigned port)
{
	if (!url || !*url)
		return true;
	const char *a;
	unsigned p;
	if (strncmp(url, "http://", 7) == 0) {
		a = url + 7;
		p = 80;
	} else if (strncmp(url, "https://", 8) == 0) {
		a = url + 8;
		p = 443;
	} else {
		return false;
	}
	const char *aend = a + strcspn(a, "/?#"); /* the authority: host[:port] */
	const char *h = a, *hend, *colon;
	if (memchr(a, '@', (size_t)(aend - a))) /* no user info */
		return false;
	if (*a == '[') {
		h = a + 1;
		hend = memchr(h, ']', (size_t)(aend - h));
		if (!hend)
			return false;
		colon = hend + 1 < aend ? hend + 1 : NULL;
		if (colon && *colon != ':')
			return false;
	} else {
		colon = memchr(a, ':', (size_t)(aend - a));
		hend = colon ? colon : aend;
	}
	if (colon) {
		const char *d = colon + 1;
		if (d == aend || aend - d > 5)
			return false;
		p = 0;
		for (; d < aend; d++) {
			if (*d < '0' || *d > '9')
				return false;
			p = p * 10 + (unsigned)(*d - '0');
		}
	}
	size_t hl = (size_t)(hend - h);
	return p == port && hl == strlen(host) && strncasecmp(h, host, hl) == 0;
}
