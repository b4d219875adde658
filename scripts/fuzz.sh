#!/usr/bin/env bash
# Bounded continuous fuzzing: every libFuzzer target of an ACEXY_FUZZ=ON
# (clang, ASan+UBSan) build runs for SECONDS on a scratch copy of its seed
# corpus (and its regressions), with memory limits. A crash fails the run
# and its input is kept in tests/fuzz/regressions/<target>/, which ctest
# replays from then on.
#   scripts/fuzz.sh [BIN_DIR] [SECONDS]      # defaults: build-asan/bin 20
set -uo pipefail
cd "$(dirname "$0")/.."
bindir=${1:-build-asan/bin}
secs=${2:-20}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=0:detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
failed=0
n=0
for bin in "$bindir"/fuzz_*; do
  [ -x "$bin" ] || continue
  name=$(basename "$bin")
  corpus=tests/fuzz/corpus/${name#fuzz_}
  [ -d "$corpus" ] || { echo "fuzz: no seed corpus $corpus for $name"; failed=1; continue; }
  work=$tmp/$name
  mkdir -p "$work/corpus" "$work/artifacts"
  cp -r "$corpus"/. "$work/corpus/"
  [ -d "tests/fuzz/regressions/$name" ] && cp -r "tests/fuzz/regressions/$name"/. "$work/corpus/"
  n=$((n + 1))
  if "$bin" -max_total_time="$secs" -malloc_limit_mb=2048 -rss_limit_mb=2560 -timeout=10 \
    -print_final_stats=1 -artifact_prefix="$work/artifacts/" "$work/corpus" >"$work/log" 2>&1; then
    echo "fuzz: $name ok ($(grep -o 'Done [0-9]* runs' "$work/log" || echo 'done'))"
  else
    failed=1
    echo "fuzz: $name FAILED"
    tail -n 40 "$work/log"
    mkdir -p "tests/fuzz/regressions/$name"
    for a in "$work/artifacts"/*; do
      [ -f "$a" ] || continue
      cp "$a" "tests/fuzz/regressions/$name/"
      echo "fuzz: kept $(basename "$a") in tests/fuzz/regressions/$name/ (commit it with the fix)"
    done
  fi
done
[ "$n" -gt 0 ] || { echo "fuzz: no fuzz targets in $bindir (configure with -DACEXY_FUZZ=ON)"; exit 1; }
echo "fuzz: $n targets, ${secs}s each"
exit $failed
