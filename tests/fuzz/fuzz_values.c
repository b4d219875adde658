/* Fuzzes every value parser: the first byte picks the type. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "acexy/settings.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char text[512];
	if (size < 1 || size > sizeof(text))
		return 0;
	enum acexy_setting_type type = (enum acexy_setting_type)(data[0] % (ACEXY_T_LAST_ + 1));
	memcpy(text, data + 1, size - 1);
	text[size - 1] = '\0';
	struct acexy_value v;
	const char *expect = NULL;
	int rc = acexy_value_parse(type, text, &v, &expect);
	if (rc == 0) {
		char out[256];
		acexy_value_format(type, &v, out, sizeof(out));
		acexy_value_clear(&v);
	} else if (!expect) {
		abort();
	}
	return 0;
}
