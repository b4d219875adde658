/* Small file-system helpers shared by the daemons. */
#ifndef ACEXY_FSUTIL_H
#define ACEXY_FSUTIL_H

#include <sys/types.h>

/* mkdir -p with `mode` for every directory it creates. 0 or -errno
 * (-ENAMETOOLONG beyond PATH_MAX). */
int acexy_mkdir_p(const char *path, mode_t mode);

#endif
