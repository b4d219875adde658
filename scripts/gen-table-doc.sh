#!/usr/bin/env bash
# Writes a doc generated from a table in the code; gen-debug-doc.sh and
# gen-log-doc.sh call it:
#   scripts/gen-table-doc.sh DOC GENERATOR [--check] [GENERATOR_PATH]
# DOC is a file in doc/, GENERATOR a program in build/bin/ (or
# GENERATOR_PATH). --check changes nothing: it fails, showing a diff, when
# the doc is stale (ctest runs the checks).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
doc=$root/doc/$1
bin=$root/build/bin/$2
shift 2
check=0
if [ "${1:-}" = --check ]; then
  check=1
  shift
fi
bin=${1:-$bin}
out=$(mktemp)
trap 'rm -f "$out"' EXIT
"$bin" >"$out"
if [ "$check" = 1 ]; then
  if ! diff -u "$doc" "$out"; then
    echo "doc/$(basename "$doc") is stale: run scripts/gen-table-doc.sh or its wrapper" >&2
    exit 1
  fi
  exit 0
fi
cp "$out" "$doc"
