#!/usr/bin/env bash
# Regenerates doc/DEBUG_MODE.md from the debug-log table
# (include/acexy/debuglog_table.h): [--check] [build/bin/acexy-gen-debug-doc]
# (ctest runs the check as debuglog_doc_current).
exec "$(dirname "$0")/gen-table-doc.sh" DEBUG_MODE.md acexy-gen-debug-doc "$@"
