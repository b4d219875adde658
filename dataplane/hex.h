/* One hex digit's value: 0..15, or -1 for anything else. For the
 * dataplane's percent-decoding (query.c) and chunk sizes (http_response.c). */
#ifndef ACEXY_DP_HEX_H
#define ACEXY_DP_HEX_H

static inline int acexy_hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

#endif
