#!/bin/sh
# Replays every file of the given corpus directories through a fuzz binary
# (libFuzzer or the replay driver: both take input files as arguments).
set -eu
bin=$1
shift
files=$(find "$@" -type f 2>/dev/null | sort)
if [ -z "$files" ]; then
  echo "no corpus files in $*" >&2
  exit 1
fi
# shellcheck disable=SC2086
exec "$bin" $files
