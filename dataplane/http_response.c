#include "dataplane/http_response.h"

#include <string.h>
#include <strings.h>

#include "dataplane/hex.h"

#define CHUNK_LINE_MAX 4096  /* a chunk-size line with its extensions */
#define TRAILER_MAX    16384 /* all trailer lines */

static bool is_ws(char c)
{
	return c == ' ' || c == '\t';
}

/* The value of a header line "name: value" when the name matches. */
static bool header_value(const char *line, size_t len, const char *name, const char **val,
                         size_t *vlen)
{
	size_t nl = strlen(name);
	if (len <= nl || line[nl] != ':' || strncasecmp(line, name, nl) != 0)
		return false;
	size_t a = nl + 1, b = len;
	while (a < b && is_ws(line[a]))
		a++;
	while (b > a && is_ws(line[b - 1]))
		b--;
	*val = line + a;
	*vlen = b - a;
	return true;
}

/* Transfer-Encoding: the last coding decides ("gzip, chunked" is chunked). */
static bool ends_in_chunked(const char *v, size_t n)
{
	while (n > 0 && (is_ws(v[n - 1]) || v[n - 1] == ','))
		n--;
	return n >= 7 && strncasecmp(v + n - 7, "chunked", 7) == 0 &&
	       (n == 7 || is_ws(v[n - 8]) || v[n - 8] == ',');
}

static bool parse_length(const char *v, size_t n, int64_t *out)
{
	if (n == 0 || n > 18)
		return false;
	int64_t x = 0;
	for (size_t i = 0; i < n; i++) {
		if (v[i] < '0' || v[i] > '9')
			return false;
		x = x * 10 + (v[i] - '0');
	}
	*out = x;
	return true;
}

static long parse_status_line(const char *line, size_t len, struct http_head *h, const char **err)
{
	/* HTTP/1.x SP 3DIGIT [SP reason] */
	if (len < 12 || strncmp(line, "HTTP/1.", 7) != 0 || (line[7] != '0' && line[7] != '1') ||
	    line[8] != ' ') {
		*err = "not an HTTP/1.x response";
		return -1;
	}
	int st = 0;
	for (int i = 9; i < 12; i++) {
		if (line[i] < '0' || line[i] > '9') {
			*err = "malformed status code";
			return -1;
		}
		st = st * 10 + (line[i] - '0');
	}
	if (st < 100 || st > 599 || (len > 12 && line[12] != ' ')) {
		*err = "malformed status code";
		return -1;
	}
	h->status = st;
	h->http10 = line[7] == '0';
	return 0;
}

long http_head_parse(const char *buf, size_t len, struct http_head *h, const char **err)
{
	memset(h, 0, sizeof(*h));
	h->content_length = -1;
	*err = NULL;
	size_t scan = len < HTTP_HEAD_MAX ? len : HTTP_HEAD_MAX;
	size_t pos = 0;
	bool first = true, have_length = false;
	for (;;) {
		const char *nl = memchr(buf + pos, '\n', scan - pos);
		if (!nl) {
			if (len >= HTTP_HEAD_MAX) {
				*err = "response head too large";
				return -1;
			}
			return 0;
		}
		size_t end = (size_t)(nl - buf);
		size_t ll = end - pos;
		if (ll > 0 && buf[end - 1] == '\r')
			ll--;
		const char *line = buf + pos;
		pos = end + 1;
		if (first) {
			if (parse_status_line(line, ll, h, err) < 0)
				return -1;
			first = false;
			continue;
		}
		if (ll == 0)
			break; /* the blank line */
		if (memchr(line, '\0', ll)) {
			*err = "NUL in a header line";
			return -1;
		}
		const char *v;
		size_t vl;
		if (header_value(line, ll, "transfer-encoding", &v, &vl)) {
			if (ends_in_chunked(v, vl))
				h->chunked = true;
		} else if (header_value(line, ll, "content-length", &v, &vl)) {
			int64_t cl;
			if (!parse_length(v, vl, &cl) || (have_length && cl != h->content_length)) {
				*err = "malformed Content-Length";
				return -1;
			}
			h->content_length = cl;
			have_length = true;
		} else if (header_value(line, ll, "location", &v, &vl)) {
			if (vl < sizeof(h->location)) {
				memcpy(h->location, v, vl);
				h->location[vl] = '\0';
				h->location_too_long = false;
			} else {
				h->location[0] = '\0';
				h->location_too_long = true;
			}
		}
	}
	if (h->http10)
		h->chunked = false;
	return (long)pos;
}

enum {
	CH_SIZE_START, /* the first hex digit of a size line */
	CH_SIZE,       /* more hex digits */
	CH_SIZE_REST,  /* extensions or whitespace up to the line end */
	CH_SIZE_LF,    /* after CR */
	CH_DATA,
	CH_DATA_CR, /* the CRLF after the data */
	CH_DATA_LF,
	CH_TRAILER_START, /* a trailer line, or the blank line that ends it all */
	CH_TRAILER_LINE,
	CH_TRAILER_LF, /* after the CR of the final blank line */
};

void http_body_init(struct http_body *b, const struct http_head *h)
{
	memset(b, 0, sizeof(*b));
	if (!h->http10 && h->chunked) {
		b->mode = HTTP_BODY_CHUNKED;
		b->st = CH_SIZE_START;
	} else if (h->content_length >= 0) {
		b->mode = HTTP_BODY_LENGTH;
		b->left = (uint64_t)h->content_length;
		b->done = b->left == 0;
	} else {
		b->mode = HTTP_BODY_CLOSE;
	}
	if ((h->status >= 100 && h->status < 200) || h->status == 204 || h->status == 304)
		b->done = true; /* no body at all */
}

/* One framing byte of a chunked body (never a data byte). */
static int chunk_framing(struct http_body *b, char c, const char **err)
{
	switch (b->st) {
	case CH_SIZE_START:
	case CH_SIZE: {
		int v = acexy_hexval(c);
		if (v >= 0) {
			if (b->left >> 56) {
				*err = "chunk size too large";
				return -1;
			}
			b->left = b->left * 16 + (uint64_t)v;
			b->st = CH_SIZE;
			break;
		}
		if (b->st == CH_SIZE_START) {
			*err = "malformed chunk size";
			return -1;
		}
		if (c == '\r')
			b->st = CH_SIZE_LF;
		else if (c == '\n')
			goto size_line_done;
		else if (c == ';' || is_ws(c))
			b->st = CH_SIZE_REST;
		else {
			*err = "malformed chunk size";
			return -1;
		}
		break;
	}
	case CH_SIZE_REST:
		if (c == '\r')
			b->st = CH_SIZE_LF;
		else if (c == '\n')
			goto size_line_done;
		break;
	case CH_SIZE_LF:
		if (c != '\n') {
			*err = "malformed chunk size line";
			return -1;
		}
		goto size_line_done;
	case CH_DATA_CR:
		if (c == '\r')
			b->st = CH_DATA_LF;
		else if (c == '\n')
			b->st = CH_SIZE_START;
		else {
			*err = "chunk longer than its size";
			return -1;
		}
		b->extra = 0;
		break;
	case CH_DATA_LF:
		if (c != '\n') {
			*err = "chunk longer than its size";
			return -1;
		}
		b->st = CH_SIZE_START;
		b->extra = 0;
		break;
	case CH_TRAILER_START:
		if (c == '\r')
			b->st = CH_TRAILER_LF;
		else if (c == '\n')
			b->done = true;
		else
			b->st = CH_TRAILER_LINE;
		break;
	case CH_TRAILER_LINE:
		if (c == '\n')
			b->st = CH_TRAILER_START;
		break;
	case CH_TRAILER_LF:
		if (c != '\n') {
			*err = "malformed end of a chunked body";
			return -1;
		}
		b->done = true;
		break;
	default:
		*err = "chunk decoder in a bad state";
		return -1;
	}
	if (++b->extra > (b->st >= CH_TRAILER_START ? TRAILER_MAX : CHUNK_LINE_MAX)) {
		*err = b->st >= CH_TRAILER_START ? "chunked trailer too long"
		                                 : "chunk size line too long";
		return -1;
	}
	return 0;
size_line_done:
	b->extra = 0;
	b->st = b->left == 0 ? CH_TRAILER_START : CH_DATA;
	return 0;
}

long http_body_decode(struct http_body *b, char *raw, size_t n, size_t *data_len, const char **err)
{
	*data_len = 0;
	*err = NULL;
	size_t in = 0, out = 0;
	while (in < n && !b->done) {
		if (b->mode == HTTP_BODY_CLOSE) {
			memmove(raw + out, raw + in, n - in);
			out += n - in;
			in = n;
			break;
		}
		if (b->mode == HTTP_BODY_LENGTH || b->st == CH_DATA) {
			size_t take = n - in;
			if (take > b->left)
				take = (size_t)b->left;
			if (out != in)
				memmove(raw + out, raw + in, take);
			out += take;
			in += take;
			http_body_raw_consumed(b, take);
			continue;
		}
		if (chunk_framing(b, raw[in], err) < 0)
			return -1;
		in++;
	}
	*data_len = out;
	return (long)in;
}

uint64_t http_body_raw_left(const struct http_body *b)
{
	if (b->done)
		return 0;
	if (b->mode == HTTP_BODY_CLOSE)
		return UINT64_MAX;
	if (b->mode == HTTP_BODY_LENGTH || b->st == CH_DATA)
		return b->left;
	return 0;
}

void http_body_raw_consumed(struct http_body *b, uint64_t n)
{
	if (b->mode == HTTP_BODY_CLOSE || b->done)
		return;
	if (n > b->left)
		n = b->left;
	b->left -= n;
	if (b->left > 0)
		return;
	if (b->mode == HTTP_BODY_LENGTH)
		b->done = true;
	else if (b->st == CH_DATA)
		b->st = CH_DATA_CR;
}

bool http_body_complete_at_eof(const struct http_body *b)
{
	return b->done || b->mode == HTTP_BODY_CLOSE;
}
