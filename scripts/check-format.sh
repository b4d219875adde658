#!/usr/bin/env bash
# Fails when a tracked C file is not clang-formatted (.clang-format).
set -euo pipefail
cd "$(dirname "$0")/.."
files=$(git ls-files '*.c' '*.h' 2>/dev/null || find . -name '*.[ch]' -not -path './build*')
bad=0
for f in $files; do
  [ -f "$f" ] || continue
  if ! clang-format --style=file --dry-run -Werror "$f" >/dev/null 2>&1; then
    echo "not clang-formatted: $f (run: clang-format -i $f)" >&2
    bad=1
  fi
done
exit $bad
