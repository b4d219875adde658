#!/usr/bin/env bash
# Writes a doc generated from a table in the code (gen-debug-doc.sh,
# gen-log-doc.sh):
#   scripts/gen-table-doc.sh DOC GENERATOR [--check]
# --check changes nothing: it fails, showing a diff, when DOC is stale.
set -euo pipefail
doc=$1
bin=$2
check=${3:-}
out=$(mktemp)
trap 'rm -f "$out"' EXIT
"$bin" >"$out"
if [ "$check" = --check ]; then
  if ! diff -u "$doc" "$out"; then
    echo "$doc is stale: run scripts/$(basename "${GEN_SCRIPT:-gen-table-doc.sh}")" >&2
    exit 1
  fi
  exit 0
fi
cp "$out" "$doc"
