/* Prints doc/DEBUG_MODE.md, generated from include/acexy/debuglog_table.h
 * (scripts/gen-debug-doc.sh runs it). */
#include <stdio.h>

#include "controlplane/debuglog.h"

int main(void)
{
	return debuglog_write_doc(stdout) == 0 ? 0 : 1;
}
