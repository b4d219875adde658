/* Any bytes as a URL a dataplane declares: on the engine or not, never a
 * crash; a URL said to be on host:port names it in its authority. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "controlplane/engine_url.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char url[2048];
	if (size >= sizeof(url))
		return 0;
	memcpy(url, data, size);
	url[size] = '\0';
	if (engine_url_on(url, "127.0.0.1", 6878) && url[0] && !strstr(url, "127.0.0.1"))
		abort();
	return 0;
}
