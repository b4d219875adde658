#!/usr/bin/env bash
# Regenerates doc/LOG_EVENTS.md from the log-event table
# (include/acexy/log_events.h): [--check] [build/bin/acexy-gen-log-doc]
# (ctest runs the check as log_events_doc_current).
exec "$(dirname "$0")/gen-table-doc.sh" LOG_EVENTS.md acexy-gen-log-doc "$@"
