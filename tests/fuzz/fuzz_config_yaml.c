/* Fuzzes the YAML settings loader: any bytes give 0 or -EINVAL with a
 * message, never a crash or a leak. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "acexy/settings.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct acexy_config cfg;
	char err[512];
	memset(&cfg, 0, sizeof(cfg));
	if (acexy_config_defaults(&cfg) < 0)
		abort();
	err[0] = '\0';
	int rc = acexy_config_load_yaml(&cfg, "fuzz.yaml", (const char *)data, size, err,
	                                sizeof(err));
	if (rc < 0 && err[0] == '\0')
		abort(); /* every failure explains itself */
	acexy_config_free(&cfg);
	return 0;
}
