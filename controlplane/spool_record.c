/* The event spool's records (spool.h): parsing and formatting lines. Pure:
 * the controlplane's unit tests and fuzz targets link it without the daemon. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "controlplane/spool.h"

uint64_t spool_hash(const char *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)p[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* One line without its newline. Returns true when it was a valid record. */
static bool parse_line(const char *p, size_t n, spool_add_fn add, spool_done_fn done, void *ud,
                       struct spool_parse_stats *st)
{
	if (n < 18 || n > SPOOL_LINE_MAX || p[16] != ' ')
		return false;
	uint64_t want = 0;
	for (int i = 0; i < 16; i++) {
		int v = hexval(p[i]);
		if (v < 0)
			return false;
		want = (want << 4) | (uint64_t)v;
	}
	const char *js = p + 17;
	size_t jn = n - 17;
	if (spool_hash(js, jn) != want)
		return false;
	json_error_t jerr;
	json_t *j = json_loadb(js, jn, JSON_REJECT_DUPLICATES, &jerr);
	if (!json_is_object(j)) {
		json_decref(j);
		return false;
	}
	const char *op = json_string_value(json_object_get(j, "op"));
	json_t *seqj = json_object_get(j, "seq");
	bool ok = false;
	if (op && json_is_integer(seqj) && json_integer_value(seqj) > 0) {
		uint64_t seq = (uint64_t)json_integer_value(seqj);
		json_t *ev = json_object_get(j, "event");
		if (strcmp(op, "add") == 0 && json_is_object(ev)) {
			st->added++;
			if (add)
				add(ud, seq, ev);
			ok = true;
		} else if (strcmp(op, "done") == 0) {
			st->done++;
			if (done)
				done(ud, seq);
			ok = true;
		}
	}
	json_decref(j);
	return ok;
}

void spool_parse(const char *buf, size_t len, spool_add_fn add, spool_done_fn done, void *ud,
                 struct spool_parse_stats *st)
{
	memset(st, 0, sizeof(*st));
	size_t pos = 0;
	while (pos < len) {
		const char *nl = memchr(buf + pos, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - (buf + pos)) : len - pos;
		st->lines++;
		if (!nl) {
			st->torn_tail = true;
			st->bad++;
			break;
		}
		if (!parse_line(buf + pos, n, add, done, ud, st))
			st->bad++;
		pos += n + 1;
	}
}

static char *format_line(json_t *rec, size_t *ret_len)
{
	char *js = json_dumps(rec, JSON_COMPACT | JSON_SORT_KEYS);
	json_decref(rec);
	if (!js)
		return NULL;
	size_t jn = strlen(js);
	char *line = malloc(jn + 19);
	if (line) {
		snprintf(line, jn + 19, "%016" PRIx64 " %s\n", spool_hash(js, jn), js);
		*ret_len = jn + 18;
	}
	free(js);
	return line;
}

char *spool_format_add(uint64_t seq, const json_t *event, size_t *ret_len)
{
	return format_line(
	        json_pack("{s:s,s:I,s:O}", "op", "add", "seq", (json_int_t)seq, "event", event),
	        ret_len);
}

char *spool_format_done(uint64_t seq, size_t *ret_len)
{
	return format_line(json_pack("{s:s,s:I}", "op", "done", "seq", (json_int_t)seq), ret_len);
}
