/* Small file-system helpers shared by the daemons. */
#ifndef ACEXY_FSUTIL_H
#define ACEXY_FSUTIL_H

#include <stddef.h>
#include <sys/types.h>

/* mkdir -p with `mode` for every directory it creates. 0 or -errno
 * (-ENAMETOOLONG beyond PATH_MAX). */
int acexy_mkdir_p(const char *path, mode_t mode);

/* Reads a whole file of at most `max` bytes into *ret (malloc'ed, with a
 * NUL after the last byte; *ret_len bytes). 0, -errno, or -EFBIG when the
 * file is larger than max. */
int acexy_read_file(const char *path, size_t max, char **ret, size_t *ret_len);

#endif
