#!/usr/bin/env bash
# Unpaced loopback throughput of acexy-fake-engine (it must never be the
# benchmark's bottleneck), reported as a ratio against a baseline measured in
# the same run: socat pushing /dev/zero through the same kind of HTTP
# response to the same reader (curl).
#
#   tests/bench/bench_fake_engine.sh [BIN_DIR] [SECONDS]
# BIN_DIR defaults to build/bin (use a normal build, not the sanitizer one).
set -euo pipefail
cd "$(dirname "$0")/../.."
bindir=${1:-build/bin}
secs=${2:-5}
command -v socat >/dev/null || { echo "socat missing (scripts/deps.sh installs it)" >&2; exit 1; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done' EXIT

# reads for SECS seconds, prints bytes
measure() {
  curl -s -L -o /dev/null --max-time "$secs" -w '%{size_download}' "$1" || true
}
gibps() { awk -v b="$1" -v s="$secs" 'BEGIN { printf "%.2f", b / s / 1073741824 }'; }

bport=$(free_port)
tmp=$(mktemp -d)
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$tmp"' EXIT
printf '#!/bin/sh\nprintf "HTTP/1.1 200 OK\\r\\nContent-Type: video/mp2t\\r\\nConnection: close\\r\\n\\r\\n"\nexec cat /dev/zero\n' >"$tmp/zero.sh"
chmod +x "$tmp/zero.sh"
socat "TCP-LISTEN:$bport,bind=127.0.0.1,reuseaddr,fork" "EXEC:$tmp/zero.sh" 2>/dev/null &
pids+=($!)
eport=$(free_port)
"$bindir/acexy-fake-engine" --listen "127.0.0.1:$eport" --bitrate 0 >/dev/null 2>&1 &
pids+=($!)
for _ in $(seq 50); do
  curl -s -o /dev/null "http://127.0.0.1:$eport/webui/api/service?method=get_version" && break
  sleep 0.1
done
sleep 0.2

base=$(measure "http://127.0.0.1:$bport/")
fake=$(measure "http://127.0.0.1:$eport/ace/getstream?id=bench")
echo "baseline (socat /dev/zero -> curl): $(gibps "$base") GiB/s"
echo "acexy-fake-engine unpaced -> curl:  $(gibps "$fake") GiB/s"
awk -v a="$fake" -v b="$base" 'BEGIN { printf "ratio fake/baseline: %.2f\n", (b > 0 ? a / b : 0) }'
