#include "acexy/secret.h"

#include <string.h>

bool acexy_secret_equal(const char *candidate, size_t len, const char *secret)
{
	size_t sl = strlen(secret);
	volatile unsigned char diff = (unsigned char)(len != sl);
	for (size_t i = 0; i < sl; i++)
		diff |= (unsigned char)(secret[i] ^ (i < len ? candidate[i] : 0));
	return diff == 0;
}
