#!/usr/bin/env bash
# The whole test suite, as README's quick start and .ci/run call it:
# installs what is missing, checks formatting, then builds and runs every test
# twice: a normal (RelWithDebInfo, gcc) build and an ASan+UBSan build (clang,
# with real libFuzzer binaries whose seed corpora ctest replays).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh

jobs=$(nproc 2>/dev/null || echo 2)
echo "== format check"
bash scripts/check-format.sh

echo "== normal build (gcc, RelWithDebInfo)"
cmake -S . -B build -DCMAKE_C_COMPILER=gcc >/dev/null
cmake --build build -j"$jobs"
(cd build && ctest --output-on-failure -j2 --timeout 600)

echo "== release build (gcc -O3: warnings only that optimisation level finds)"
cmake -S . -B build-release -DCMAKE_C_COMPILER=gcc -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build-release -j"$jobs" >/dev/null

echo "== deploy checks (image, Kubernetes, Compose, systemd; offline)"
bash scripts/check-deploy.sh build/bin

echo "== pod (images built with podman, the Kubernetes pod run with podman kube play)"
bash scripts/test-pod.sh

echo "== sanitizer build (clang, ASan + UBSan, libFuzzer targets)"
CC=clang cmake -S . -B build-asan -DCMAKE_C_COMPILER=clang -DACEXY_SANITIZE=ON -DACEXY_FUZZ=ON \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build-asan -j"$jobs"
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=0:detect_leaks=1:strict_string_checks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
(cd build-asan && ctest --output-on-failure -j2 --timeout 900)

echo "== bounded fuzzing (every target ${ACEXY_FUZZ_SECONDS:-15}s under ASan+UBSan)"
bash scripts/fuzz.sh build-asan/bin "${ACEXY_FUZZ_SECONDS:-15}"
echo "== all tests passed (normal and sanitizer builds)"
