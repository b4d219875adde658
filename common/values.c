/* Value parsers for settings: pure, bounded, strict. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "acexy/ctlurl.h"
#include "acexy/settings.h"

/* Reads "123" or "123.456" into an integer part and a fraction scaled to
 * 1e9, so that unit multiplication stays exact. */
static int parse_decimal(const char **pp, uint64_t *ret_int, uint64_t *ret_frac_e9)
{
	const char *p = *pp;
	uint64_t iv = 0, fv = 0, scale = 100000000;
	bool digits = false;
	while (isdigit((unsigned char)*p)) {
		uint64_t d = (uint64_t)(*p - '0');
		if (iv > (UINT64_MAX - d) / 10)
			return -ERANGE;
		iv = iv * 10 + d;
		p++;
		digits = true;
	}
	if (*p == '.') {
		p++;
		bool fd = false;
		while (isdigit((unsigned char)*p)) {
			fv += (uint64_t)(*p - '0') * scale;
			scale /= 10;
			p++;
			fd = true;
		}
		if (!fd)
			return -EINVAL;
		digits = true;
	}
	if (!digits)
		return -EINVAL;
	*pp = p;
	*ret_int = iv;
	*ret_frac_e9 = fv;
	return 0;
}

/* iv.frac * mult, floor, with overflow check */
static int scale_value(uint64_t iv, uint64_t frac_e9, uint64_t mult, uint64_t *ret)
{
	if (mult && iv > UINT64_MAX / mult)
		return -ERANGE;
	uint64_t v = iv * mult;
	/* frac_e9 < 1e9 and mult <= 3.6e9 (an hour in us): the product fits */
	uint64_t f = frac_e9 * mult / 1000000000ULL;
	if (v > UINT64_MAX - f)
		return -ERANGE;
	*ret = v + f;
	return 0;
}

int acexy_parse_size(const char *text, uint64_t *ret_bytes)
{
	static const struct {
		const char *unit;
		uint64_t mult;
	} units[] = {
	        {"", 1},
	        {"B", 1},
	        {"KB", 1000},
	        {"MB", 1000 * 1000},
	        {"GB", 1000 * 1000 * 1000},
	        {"KiB", 1024},
	        {"MiB", 1024 * 1024},
	        {"GiB", 1024 * 1024 * 1024},
	};
	const char *p = text;
	uint64_t iv, fv;
	if (!text)
		return -EINVAL;
	int rc = parse_decimal(&p, &iv, &fv);
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcmp(p, units[i].unit) != 0)
			continue;
		if (units[i].mult == 1 && fv != 0)
			return -EINVAL; /* fractional bytes */
		return scale_value(iv, fv, units[i].mult, ret_bytes);
	}
	return -EINVAL;
}

int acexy_parse_duration_ms(const char *text, uint64_t *ret_ms)
{
	/* unit multipliers in microseconds; result rounded down to ms */
	static const struct {
		const char *unit;
		uint64_t us;
	} units[] = {
	        {"ms", 1000}, {"us", 1}, {"h", 3600000000ULL}, {"m", 60000000}, {"s", 1000000},
	};
	const char *p = text;
	uint64_t total_us = 0;
	if (!text || !*text)
		return -EINVAL;
	if (strcmp(text, "0") == 0) {
		*ret_ms = 0;
		return 0;
	}
	while (*p) {
		uint64_t iv, fv, part;
		int rc = parse_decimal(&p, &iv, &fv);
		if (rc < 0)
			return rc;
		size_t i, n = sizeof(units) / sizeof(units[0]);
		for (i = 0; i < n; i++) {
			size_t ul = strlen(units[i].unit);
			if (strncmp(p, units[i].unit, ul) == 0)
				break; /* "ms" is listed before "m" */
		}
		if (i == n)
			return -EINVAL;
		rc = scale_value(iv, fv, units[i].us, &part);
		if (rc < 0)
			return rc;
		if (total_us > UINT64_MAX - part)
			return -ERANGE;
		total_us += part;
		p += strlen(units[i].unit);
	}
	*ret_ms = total_us / 1000;
	return 0;
}

int acexy_parse_bool(const char *text, bool *ret_value)
{
	static const char *const yes[] = {"true", "1", "yes", "on"};
	static const char *const no[] = {"false", "0", "no", "off"};
	if (!text)
		return -EINVAL;
	for (size_t i = 0; i < 4; i++) {
		if (strcasecmp(text, yes[i]) == 0) {
			*ret_value = true;
			return 0;
		}
		if (strcasecmp(text, no[i]) == 0) {
			*ret_value = false;
			return 0;
		}
	}
	return -EINVAL;
}

static int parse_uint(const char *text, uint64_t max, uint64_t *ret)
{
	uint64_t v = 0;
	if (!*text || strlen(text) > 20)
		return -EINVAL;
	for (const char *c = text; *c; c++) {
		if (!isdigit((unsigned char)*c))
			return -EINVAL;
		if (v > (UINT64_MAX - 9) / 10)
			return -ERANGE;
		v = v * 10 + (uint64_t)(*c - '0');
	}
	if (v > max)
		return -ERANGE;
	*ret = v;
	return 0;
}

static bool valid_host(const char *h)
{
	size_t n = strlen(h);
	if (n == 0 || n > 253)
		return false;
	if (h[0] == '[' && h[n - 1] == ']')
		return n > 2;
	for (const char *c = h; *c; c++)
		if (!isalnum((unsigned char)*c) && !strchr("-._:", *c))
			return false;
	return true;
}

static bool valid_url(const char *u)
{
	const char *rest;
	if (strncmp(u, "http://", 7) == 0)
		rest = u + 7;
	else if (strncmp(u, "https://", 8) == 0)
		rest = u + 8;
	else
		return false;
	size_t hl = strcspn(rest, "/?#");
	if (hl == 0 || hl > 260)
		return false;
	for (const char *c = u; *c; c++)
		if ((unsigned char)*c <= ' ' || *c == 0x7f)
			return false;
	return true;
}

bool acexy_list_next(const char **cursor, const char **ret_item, size_t *ret_len)
{
	const char *p = *cursor;
	while (*p) {
		size_t l = strcspn(p, ",");
		const char *a = p, *b = p + l;
		p += l;
		if (*p == ',')
			p++;
		while (a < b && (*a == ' ' || *a == '\t'))
			a++;
		while (b > a && (b[-1] == ' ' || b[-1] == '\t'))
			b--;
		if (b > a) {
			*cursor = p;
			*ret_item = a;
			*ret_len = (size_t)(b - a);
			return true;
		}
	}
	*cursor = p;
	return false;
}

/* Each comma-separated item (blanks around it ignored, empty ones skipped)
 * an http(s) URL with a host or a path; no control characters. */
static bool valid_sources(const char *text)
{
	unsigned n = 0;
	for (const char *c = text; *c; c++)
		if ((unsigned char)*c < ' ' || *c == 0x7f)
			return false;
	const char *a;
	size_t len;
	for (const char *p = text; acexy_list_next(&p, &a, &len);) {
		char item[4097];
		snprintf(item, sizeof(item), "%.*s", (int)len, a);
		bool http = strncasecmp(item, "http://", 7) == 0 ||
		            strncasecmp(item, "https://", 8) == 0;
		if ((http && !valid_url(item)) || ++n > ACEXY_SOURCES_MAX)
			return false;
	}
	return true;
}

static bool valid_name(const char *s)
{
	size_t n = strlen(s);
	if (n > 64)
		return false;
	for (const char *c = s; *c; c++)
		if (!isalnum((unsigned char)*c) && !strchr("._-", *c))
			return false;
	return true;
}

void acexy_value_clear(struct acexy_value *v)
{
	if (!v)
		return;
	free(v->s);
	free(v->origin_where);
	memset(v, 0, sizeof(*v));
}

int acexy_value_parse(enum acexy_setting_type type, const char *text, struct acexy_value *ret_value,
                      const char **expect)
{
	struct acexy_value v;
	const char *exp = "a valid value";
	int rc = 0;
	memset(&v, 0, sizeof(v));
	if (!text)
		text = "";
	if (strlen(text) > 4096) {
		*expect = "a value shorter than 4096 bytes";
		return -EINVAL;
	}
	switch (type) {
	case ACEXY_T_STRING:
	case ACEXY_T_SECRET:
		exp = "a string without control characters";
		for (const char *c = text; *c; c++)
			if ((unsigned char)*c < ' ' || *c == 0x7f)
				rc = -EINVAL;
		break;
	case ACEXY_T_NAME:
		exp = "a name of up to 64 letters, digits, '.', '_' or '-'";
		rc = valid_name(text) ? 0 : -EINVAL;
		break;
	case ACEXY_T_PATH:
		exp = "a non-empty path";
		rc = *text ? 0 : -EINVAL;
		for (const char *c = text; *c; c++)
			if ((unsigned char)*c < ' ')
				rc = -EINVAL;
		break;
	case ACEXY_T_SOURCES:
		exp = "http(s) URLs or file paths, comma-separated (at most 32)";
		rc = valid_sources(text) ? 0 : -EINVAL;
		break;
	case ACEXY_T_URL:
		exp = "empty or an http:// or https:// URL with a host";
		rc = (!*text || valid_url(text)) ? 0 : -EINVAL;
		break;
	case ACEXY_T_HOST:
		exp = "a host name or IP address";
		rc = valid_host(text) ? 0 : -EINVAL;
		break;
	case ACEXY_T_PORT:
		exp = "a port number 1-65535";
		rc = parse_uint(text, 65535, &v.u);
		if (rc == 0 && v.u == 0)
			rc = -EINVAL;
		break;
	case ACEXY_T_SCHEME:
		exp = "http or https";
		rc = (strcmp(text, "http") == 0 || strcmp(text, "https") == 0) ? 0 : -EINVAL;
		break;
	case ACEXY_T_SIZE:
		exp = "a size such as 65536, 512KiB, 4MiB, 4.2MiB or 4MB";
		rc = acexy_parse_size(text, &v.u);
		break;
	case ACEXY_T_DURATION:
		exp = "a duration such as 500ms, 10s, 1m, 1h or 1m30s";
		rc = acexy_parse_duration_ms(text, &v.u);
		break;
	case ACEXY_T_BOOL:
		exp = "a boolean: true/false/1/0/yes/no";
		rc = acexy_parse_bool(text, &v.b);
		break;
	case ACEXY_T_COUNT:
		exp = "a whole number from 0 to 4294967295";
		rc = parse_uint(text, UINT32_MAX, &v.u);
		break;
	case ACEXY_T_WORKERS:
		exp = "auto or a number of threads from 1 to 256";
		if (strcmp(text, "auto") == 0) {
			v.u = 0;
		} else {
			rc = parse_uint(text, 256, &v.u);
			if (rc == 0 && v.u == 0)
				rc = -EINVAL;
		}
		break;
	case ACEXY_T_ADDR:
		exp = "a listen address such as :8080, 127.0.0.1:8080 or [::]:8080";
		rc = acexy_addr_parse(text, &v.addr);
		break;
	case ACEXY_T_NETS:
		exp = "comma-separated networks such as 10.0.0.0/8, 192.168.1.7 or ::1/128 (at "
		      "most 64)";
		rc = acexy_netlist_parse(text, &v.nets);
		break;
	case ACEXY_T_LOGLEVEL:
		exp = "debug, info, warn or error";
		if (strcmp(text, "debug") == 0)
			v.u = 0;
		else if (strcmp(text, "info") == 0)
			v.u = 1;
		else if (strcmp(text, "warn") == 0 || strcmp(text, "warning") == 0)
			v.u = 2;
		else if (strcmp(text, "error") == 0)
			v.u = 3;
		else
			rc = -EINVAL;
		break;
	case ACEXY_T_CTLURL: {
		struct acexy_ctlurl cu;
		exp = "empty, ipc:///absolute/path, tcp://HOST:PORT or tls+tcp://HOST:PORT (IPv6 "
		      "as [::1])";
		rc = (!*text || acexy_ctlurl_parse(text, &cu) == 0) ? 0 : -EINVAL;
		break;
	}
	case ACEXY_T_OPTFILE:
		exp = "empty or a file path";
		for (const char *c = text; *c; c++)
			if ((unsigned char)*c < ' ')
				rc = -EINVAL;
		break;
	case ACEXY_T_LOGFORMAT:
		exp = "text or json";
		if (strcmp(text, "text") == 0)
			v.u = 0;
		else if (strcmp(text, "json") == 0)
			v.u = 1;
		else
			rc = -EINVAL;
		break;
	}
	if (rc < 0) {
		*expect = exp;
		return -EINVAL;
	}
	v.s = strdup(text);
	if (!v.s)
		return -ENOMEM;
	*ret_value = v;
	return 0;
}

void acexy_value_format(enum acexy_setting_type type, const struct acexy_value *v, char *buf,
                        size_t cap)
{
	if (type == ACEXY_T_SECRET) {
		snprintf(buf, cap, "%s", v->s && *v->s ? "<set>" : "");
		return;
	}
	snprintf(buf, cap, "%s", v->s ? v->s : "");
}
