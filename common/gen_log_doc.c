/* Prints doc/LOG_EVENTS.md from the log-event table (scripts/gen-log-doc.sh). */
#include <stdio.h>

#include "acexy/log_events.h"

int main(void)
{
	printf("# Log events\n\n"
	       "Generated from `include/acexy/log_events.h` by `scripts/gen-log-doc.sh`; do not\n"
	       "edit by hand. Every log line of both daemons carries one of these names\n"
	       "(`event=NAME` in the text format, `\"event\":\"NAME\"` in JSON,\n"
	       "`ACEXY_LOG_FORMAT`), then its own fields. The ctest `log_events_table` fails\n"
	       "when the code logs an event that is not listed here, or when one listed is\n"
	       "no longer logged. The JSON Lines debug logs (`DEBUG_MODE`) are another\n"
	       "thing: see [DEBUG_MODE.md](DEBUG_MODE.md).\n\n"
	       "| event | logged by | meaning |\n|---|---|---|\n");
#define ROW(name, who, meaning)                                                                    \
	printf("| `%s` | %s | %s |\n", #name,                                                      \
	       (who) == ACEXY_LOG_CP   ? "controlplane"                                            \
	       : (who) == ACEXY_LOG_DP ? "dataplane"                                               \
	                               : "both",                                                   \
	       meaning);
	ACEXY_LOG_EVENTS(ROW)
#undef ROW
	return 0;
}
