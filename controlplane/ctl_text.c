/* acexyctl's text output (ctl_text.h). Absent, null and empty values
 * print as "-", lists of plain values joined with ", ", nested objects as an
 * indented block under their name, lists of objects as tables. */
#include "controlplane/ctl_text.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define MAX_COLS 24

/* A value as one cell (malloc'ed). */
static char *cell(const json_t *v)
{
	if (!v || json_is_null(v))
		return strdup("-");
	if (json_is_string(v))
		return strdup(json_string_length(v) ? json_string_value(v) : "-");
	if (json_is_array(v)) {
		size_t n = 0, i;
		json_t *e;
		char *out = NULL;
		FILE *m = open_memstream(&out, &n);
		if (!m)
			return strdup("?");
		if (json_array_size(v) == 0)
			fputs("-", m);
		json_array_foreach(v, i, e)
		{
			char *t = json_is_object(e) || json_is_array(e) ? strdup("{...}") : cell(e);
			fprintf(m, "%s%s", i ? ", " : "", t ? t : "");
			free(t);
		}
		fclose(m);
		return out;
	}
	if (json_is_object(v))
		return strdup(json_object_size(v) ? "{...}" : "-");
	char *t = json_dumps(v, JSON_ENCODE_ANY | JSON_REAL_PRECISION(4));
	return t ? t : strdup("?");
}

static bool is_table(const json_t *v)
{
	return json_is_array(v) && json_array_size(v) > 0 && json_is_object(json_array_get(v, 0));
}

/* rows as a table; cols NULL: the plain fields of the first row, headed by
 * their names in capitals */
static void table(FILE *f, int indent, const json_t *rows, const char *const *cols,
                  const char *const *heads, int n)
{
	const char *auto_cols[MAX_COLS];
	char auto_heads[MAX_COLS][48];
	const char *auto_head_p[MAX_COLS];
	if (!cols) {
		const char *k;
		json_t *v;
		n = 0;
		json_object_foreach(json_array_get(rows, 0), k, v)
		{
			if (n == MAX_COLS || json_is_object(v) || is_table(v))
				continue;
			auto_cols[n] = k;
			size_t j = 0;
			for (; k[j] && j + 1 < sizeof(auto_heads[n]); j++)
				auto_heads[n][j] =
				        (k[j] >= 'a' && k[j] <= 'z') ? (char)(k[j] - 32) : k[j];
			auto_heads[n][j] = '\0';
			auto_head_p[n] = auto_heads[n];
			n++;
		}
		cols = auto_cols;
		heads = auto_head_p;
	}
	size_t nrows = json_array_size(rows);
	char **cells = calloc(nrows * (size_t)n + 1, sizeof(*cells));
	size_t w[MAX_COLS];
	if (!cells)
		return;
	for (int c = 0; c < n; c++)
		w[c] = strlen(heads[c]);
	for (size_t r = 0; r < nrows; r++)
		for (int c = 0; c < n; c++) {
			char *t = cell(json_object_get(json_array_get(rows, r), cols[c]));
			cells[r * n + c] = t;
			if (t && strlen(t) > w[c])
				w[c] = strlen(t);
		}
	fprintf(f, "%*s", indent, "");
	for (int c = 0; c < n; c++)
		fprintf(f, "%-*s%s", c + 1 < n ? (int)w[c] : 0, heads[c], c + 1 < n ? "  " : "\n");
	for (size_t r = 0; r < nrows; r++) {
		fprintf(f, "%*s", indent, "");
		for (int c = 0; c < n; c++) {
			const char *t = cells[r * n + c];
			fprintf(f, "%-*s%s", c + 1 < n ? (int)w[c] : 0, t ? t : "",
			        c + 1 < n ? "  " : "\n");
		}
	}
	for (size_t i = 0; i < nrows * (size_t)n; i++)
		free(cells[i]);
	free(cells);
}

/* An object: its plain fields aligned, then each nested object and list
 * of records under its name. */
static void block(FILE *f, int indent, json_t *obj)
{
	const char *k;
	json_t *v;
	size_t kw = 0;
	json_object_foreach(obj, k, v)
	{
		if (!json_is_object(v) && !is_table(v) && strlen(k) > kw)
			kw = strlen(k);
	}
	json_object_foreach(obj, k, v)
	{
		if (json_is_object(v) || is_table(v))
			continue;
		char *t = cell(v);
		fprintf(f, "%*s%-*s  %s\n", indent, "", (int)kw, k, t ? t : "");
		free(t);
	}
	json_object_foreach(obj, k, v)
	{
		if (json_is_object(v)) {
			fprintf(f, "\n%*s%s:\n", indent, "", k);
			if (json_object_size(v))
				block(f, indent + 2, v);
			else
				fprintf(f, "%*s-\n", indent + 2, "");
		} else if (is_table(v)) {
			fprintf(f, "\n%*s%s:\n", indent, "", k);
			table(f, indent + 2, v, NULL, NULL, 0);
		}
	}
}

void ctl_print_text(FILE *f, const char *cmd, json_t *res)
{
	if (strcmp(cmd, "streams") == 0 && json_object_get(res, "streams") &&
	    json_is_integer(
	            json_object_get(json_array_get(json_object_get(res, "streams"), 0), "id"))) {
		static const char *const cols[] = {
		        "id",      "content",         "engine_host", "engine_port", "instance",
		        "viewers", "bytes",           "rate_mbps",   "age_s",       "engine_status",
		        "peers",   "speed_down_kbps", "failovers"};
		static const char *const heads[] = {
		        "ID",     "CONTENT", "ENGINE", "PORT",  "DATAPLANE",  "VIEWERS",  "BYTES",
		        "MBIT/S", "AGE(s)",  "STATE",  "PEERS", "DOWN(KB/s)", "FAILOVERS"};
		table(f, 0, json_object_get(res, "streams"), cols, heads, 13);
		return;
	}
	if (strcmp(cmd, "engines") == 0) {
		static const char *const cols[] = {"host", "port",   "container_id", "health",
		                                   "load", "leases", "forwarded",    "fallback"};
		static const char *const heads[] = {"HOST", "PORT",   "CONTAINER", "HEALTH",
		                                    "LOAD", "LEASES", "FORWARDED", "FALLBACK"};
		table(f, 0, json_object_get(res, "engines"), cols, heads, 8);
		return;
	}
	if (strcmp(cmd, "dataplanes") == 0) {
		static const char *const cols[] = {"instance", "address",          "streams",
		                                   "viewers",  "last_heartbeat_s", "version",
		                                   "draining"};
		static const char *const heads[] = {"DATAPLANE",    "ADDRESS", "STREAMS", "VIEWERS",
		                                    "HEARTBEAT(s)", "VERSION", "DRAINING"};
		table(f, 0, json_object_get(res, "dataplanes"), cols, heads, 7);
		return;
	}
	if (strcmp(cmd, "config") == 0) {
		static const char *const cols[] = {"env", "value", "origin", "where"};
		static const char *const heads[] = {"SETTING", "VALUE", "ORIGIN", "WHERE"};
		table(f, 0, json_object_get(res, "settings"), cols, heads, 4);
		return;
	}
	/* status, ping, stream, stop, drain, resume, dataplane streams: the
	 * generic layout */
	block(f, 0, res);
}
