/* Any foreign text (an engine's or orchestrator's message) in a debug-log
 * record: cleaned to valid UTF-8 within the bound, and the JSON line it
 * becomes parses back to the same text. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "controlplane/debuglog.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *s = debuglog_text((const char *)data, size);
	if (!s)
		return 0;
	if (!json_is_string(s) || json_string_length(s) > DEBUGLOG_TEXT_MAX + 3)
		abort();
	json_t *rec =
	        json_pack("{s:s,s:s,s:s,s:O,s:s,s:s}", "ts", "2026-01-01T00:00:00.000Z", "category",
	                  "errors", "event", "x", "error", s, "where", "fuzz", "detail", "");
	if (!rec)
		abort();
	if (debuglog_record_problem(DEBUGLOG_ERRORS, rec))
		abort();
	char *line = json_dumps(rec, JSON_COMPACT);
	if (!line || strchr(line, '\n'))
		abort(); /* one record, one line */
	json_error_t err;
	json_t *back = json_loads(line, 0, &err);
	if (!back || !json_equal(json_object_get(back, "error"), s))
		abort();
	json_decref(back);
	free(line);
	json_decref(rec);
	json_decref(s);
	return 0;
}
