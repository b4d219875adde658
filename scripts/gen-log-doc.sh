#!/usr/bin/env bash
# Regenerates doc/LOG_EVENTS.md from the log-event table (include/acexy/log_events.h):
#   scripts/gen-log-doc.sh [--check] [build/bin/acexy-gen-log-doc]
# --check changes nothing: it fails, showing a diff, when the doc is stale
# (ctest runs it as log_events_doc_current).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
check=
if [ "${1:-}" = --check ]; then
  check=--check
  shift
fi
GEN_SCRIPT=$0 exec "$root/scripts/gen-table-doc.sh" "$root/doc/LOG_EVENTS.md" "${1:-$root/build/bin/acexy-gen-log-doc}" $check
