#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dataplane/engine_answer.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct engine_answer a;
	struct engine_stat st;
	char why[256] = "";
	if (engine_answer_parse((const char *)data, size, &a, why, sizeof(why)) == 0) {
		if (strncmp(a.playback_url, "http", 4) != 0)
			abort();
	} else if (!why[0]) {
		abort();
	}
	(void)engine_stat_parse((const char *)data, size, &st);
	return 0;
}
