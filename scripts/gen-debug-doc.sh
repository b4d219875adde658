#!/usr/bin/env bash
# Regenerates doc/DEBUG_MODE.md from the debug-log table (include/acexy/debuglog_table.h):
#   scripts/gen-debug-doc.sh [--check] [build/bin/acexy-gen-debug-doc]
# --check changes nothing: it fails, showing a diff, when the doc is stale
# (ctest runs it as debuglog_doc_current).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
check=
if [ "${1:-}" = --check ]; then
  check=--check
  shift
fi
GEN_SCRIPT=$0 exec "$root/scripts/gen-table-doc.sh" "$root/doc/DEBUG_MODE.md" "${1:-$root/build/bin/acexy-gen-debug-doc}" $check
