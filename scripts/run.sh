#!/usr/bin/env bash
# Sets up, builds, installs into ./out and runs both daemons in the
# foreground (Ctrl-C stops both). Single-engine mode against
# ACEXY_HOST:ACEXY_PORT (default localhost:6878) unless ACEXY_ORCH_URL is set.
#
#   scripts/run.sh            # against a real engine on localhost:6878
#   scripts/run.sh --demo     # also starts acexy-fake-engine (no AceStream needed)
#
# Every setting can be given as an environment variable (see --help).
set -euo pipefail
cd "$(dirname "$0")/.."
demo=0
[ "${1:-}" = "--demo" ] && demo=1

bash scripts/deps.sh
cmake -S . -B build-run -DACEXY_TESTS=OFF >/dev/null
cmake --build build-run -j"$(nproc)" >/dev/null
cmake --install build-run --prefix "$PWD/out" >/dev/null

export ACEXY_RUN_DIR=${ACEXY_RUN_DIR:-$PWD/.run/run}
export ACEXY_STATE_DIR=${ACEXY_STATE_DIR:-$PWD/.run/state}
export ACEXY_LISTEN_ADDR=${ACEXY_LISTEN_ADDR:-:8080}
export ACEXY_CP_LISTEN_ADDR=${ACEXY_CP_LISTEN_ADDR:-127.0.0.1:8081}
mkdir -p "$ACEXY_RUN_DIR" "$ACEXY_STATE_DIR"

pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT INT TERM

if [ $demo -eq 1 ]; then
  export ACEXY_HOST=127.0.0.1 ACEXY_PORT=${ACEXY_PORT:-6878}
  out/bin/acexy-fake-engine --listen "127.0.0.1:$ACEXY_PORT" & pids+=($!)
fi
out/bin/acexy-controlplane & pids+=($!)
out/bin/acexy-dataplane & pids+=($!)
port=${ACEXY_LISTEN_ADDR##*:}
echo "acexy is up: http://127.0.0.1:$port/ace/getstream?id=<content id>" >&2
echo "  try: ffplay 'http://127.0.0.1:$port/ace/getstream?id=demo'   (Ctrl-C stops)" >&2
wait -n "${pids[@]}"
