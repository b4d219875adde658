#include "acexy/ctlurl.h"
#include "acexy/netaddr.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

const char *acexy_ctl_scheme_name(enum acexy_ctl_scheme s)
{
	switch (s) {
	case ACEXY_CTL_TCP:
		return "tcp";
	case ACEXY_CTL_TLS:
		return "tls+tcp";
	default:
		return "ipc";
	}
}

int acexy_ctlurl_parse(const char *text, struct acexy_ctlurl *ret)
{
	struct acexy_ctlurl u;
	const char *rest;
	memset(&u, 0, sizeof(u));
	for (const char *c = text; *c; c++)
		if ((unsigned char)*c <= ' ' || *c == 0x7f)
			return -EINVAL;
	if (strncmp(text, "ipc://", 6) == 0) {
		rest = text + 6;
		/* sun_path holds 108 bytes with its NUL */
		if (rest[0] != '/' || strlen(rest) >= sizeof(u.path))
			return -EINVAL;
		u.scheme = ACEXY_CTL_IPC;
		snprintf(u.path, sizeof(u.path), "%s", rest);
		*ret = u;
		return 0;
	}
	if (strncmp(text, "tcp://", 6) == 0) {
		u.scheme = ACEXY_CTL_TCP;
		rest = text + 6;
	} else if (strncmp(text, "tls+tcp://", 10) == 0) {
		u.scheme = ACEXY_CTL_TLS;
		rest = text + 10;
	} else {
		return -EINVAL;
	}
	const char *colon;
	if (rest[0] == '[') {
		const char *close = strchr(rest, ']');
		if (!close || close[1] != ':' || close == rest + 1)
			return -EINVAL;
		size_t n = (size_t)(close - rest - 1);
		if (n >= sizeof(u.host))
			return -EINVAL;
		for (const char *c = rest + 1; c < close; c++)
			if (!isxdigit((unsigned char)*c) && *c != ':' && *c != '.')
				return -EINVAL;
		memcpy(u.host, rest + 1, n);
		colon = close + 1;
	} else {
		colon = strrchr(rest, ':');
		if (!colon)
			return -EINVAL;
		size_t n = (size_t)(colon - rest);
		if (n >= sizeof(u.host))
			return -EINVAL;
		for (const char *c = rest; c < colon; c++)
			if (!isalnum((unsigned char)*c) && *c != '-' && *c != '.' && *c != '_')
				return -EINVAL;
		memcpy(u.host, rest, n);
	}
	uint16_t port;
	if (acexy_parse_port(colon + 1, &port) < 0)
		return -EINVAL;
	u.port = port;
	*ret = u;
	return 0;
}
