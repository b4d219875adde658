/* Secrets: comparison in constant time (for a given secret length). Pure. */
#ifndef ACEXY_SECRET_H
#define ACEXY_SECRET_H

#include <stdbool.h>
#include <stddef.h>

/* Does candidate[0..len) equal the NUL-terminated secret? The time taken
 * depends on the secret's length only, never on where they differ. */
bool acexy_secret_equal(const char *candidate, size_t len, const char *secret);

#endif
