#!/usr/bin/env bash
# Regenerates doc/DEBUG_MODE.md from the debug-log table
# (include/acexy/debuglog_table.h):
#   scripts/gen-debug-doc.sh [--check] [build/bin/acexy-gen-debug-doc]
# --check changes nothing: it fails, showing a diff, when the doc is stale
# (ctest runs it as debuglog_doc_current).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
check=0
if [ "${1:-}" = --check ]; then
  check=1
  shift
fi
bin=${1:-$root/build/bin/acexy-gen-debug-doc}
doc=$root/doc/DEBUG_MODE.md
out=$(mktemp)
trap 'rm -f "$out"' EXIT
"$bin" >"$out"
if [ "$check" = 1 ]; then
  if ! diff -u "$doc" "$out"; then
    echo "doc/DEBUG_MODE.md is stale: run scripts/gen-debug-doc.sh" >&2
    exit 1
  fi
  exit 0
fi
cp "$out" "$doc"
