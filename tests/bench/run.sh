#!/usr/bin/env bash
# The benchmark in one command: installs what is missing, builds the normal
# (not sanitizer) tree, then runs tests/bench/run.py (see its --help).
#   tests/bench/run.sh [--quick] [--runs N] [--out FILE] [--only NAME,...]
set -euo pipefail
cd "$(dirname "$0")/../.."
bash scripts/deps.sh --bench
cmake -S . -B build -DCMAKE_C_COMPILER=gcc >/dev/null
cmake --build build -j"$(nproc)" >/dev/null
exec python3 tests/bench/run.py --bin build/bin "$@"
