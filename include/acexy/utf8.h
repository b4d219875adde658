/* UTF-8 well-formedness (RFC 3629): no overlong forms, no surrogates,
 * nothing past U+10FFFF. */
#ifndef ACEXY_UTF8_H
#define ACEXY_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/* The length of the well-formed sequence at the NUL-terminated s (1 for
 * ASCII), 0 when it is not one (a NUL stops a sequence short). */
static inline size_t acexy_utf8_len(const unsigned char *s)
{
	unsigned char c = s[0];
	size_t n;
	unsigned char lo = 0x80, hi = 0xbf; /* the second byte's range */
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		n = 2;
	} else if (c >= 0xe0 && c <= 0xef) {
		n = 3;
		if (c == 0xe0)
			lo = 0xa0;
		else if (c == 0xed)
			hi = 0x9f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		n = 4;
		if (c == 0xf0)
			lo = 0x90;
		else if (c == 0xf4)
			hi = 0x8f;
	} else {
		return 0;
	}
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return n;
}

static inline bool acexy_utf8_valid(const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p;) {
		size_t n = acexy_utf8_len(p);
		if (n == 0)
			return false;
		p += n;
	}
	return true;
}

#endif
