#!/usr/bin/env bash
# Proves that deploy/Dockerfile's runtime stage would work, without Docker:
# assembles a Debian 12 minbase root with debootstrap from Debian's mirror,
# installs exactly the runtime packages the Dockerfile's final stage lists,
# copies the installed programs into /usr/local/bin, creates the same uid
# 10001 user and directories, then, as that user through chroot, runs
# acexy-fake-engine, acexy-controlplane and acexy-dataplane, and checks
# probes, a real stream (first byte 0x47), acexyctl and SIGTERM exit codes.
#
# Not run in CI (needs root and the network, takes a few minutes):
#   sudo deploy/debootstrap-smoke.sh [PREFIX]
# PREFIX holds bin/ from `cmake --install BUILD --prefix PREFIX`; without it
# the script builds the tree (-DACEXY_TESTS=OFF) into a scratch directory.
# MIRROR=... overrides the Debian mirror; KEEP=1 keeps the root for a look.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" -eq 0 ] || { echo "run as root (debootstrap and chroot)" >&2; exit 2; }
mirror=${MIRROR:-http://deb.debian.org/debian}
work=$(mktemp -d /tmp/acexy-smoke.XXXXXX)
rootfs=$work/root
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  mountpoint -q "$rootfs/proc" && umount "$rootfs/proc"
  if [ -n "${KEEP:-}" ]; then echo "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

for tool in debootstrap curl cmake; do
  command -v "$tool" >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$tool" >/dev/null
done

prefix=${1:-}
if [ -z "$prefix" ]; then
  echo "== building into $work/prefix"
  cmake -S . -B "$work/build" -DACEXY_TESTS=OFF >/dev/null
  cmake --build "$work/build" -j"$(nproc)" >/dev/null
  cmake --install "$work/build" --prefix "$work/prefix" --strip >/dev/null
  prefix=$work/prefix
fi
for p in acexy-dataplane acexy-controlplane acexyctl acexy-fake-engine; do
  [ -x "$prefix/bin/$p" ] || { echo "no $prefix/bin/$p" >&2; exit 1; }
done

# The runtime packages, read from the Dockerfile's final stage.
pkgs=$(awk '/^FROM[ \t]/ { n = NR } { line[NR] = $0 } END { for (i = n; i <= NR; i++) print line[i] }' deploy/Dockerfile |
  sed -e ':a' -e '/\\$/N; s/\\\n/ /; ta' | grep -E 'apt-get( -[^ ]+)* install' |
  sed -e 's/.*apt-get[^&]* install//' -e 's/&&.*//' | tr ' \t' '\n\n' | grep -Ev '^(-.*|)$' | sort -u | paste -sd, -)
echo "== debootstrap bookworm (minbase) with: $pkgs"
debootstrap --variant=minbase --include="$pkgs" bookworm "$rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 ||
  { tail -n 30 "$work/debootstrap.log"; exit 1; }

echo "== installing the programs as the image does"
cp "$prefix"/bin/* "$rootfs/usr/local/bin/"
chroot "$rootfs" groupadd --system --gid 10001 acexy
chroot "$rootfs" useradd --system --uid 10001 --gid 10001 --home-dir /var/lib/acexy --no-create-home --shell /usr/sbin/nologin acexy
chroot "$rootfs" install -d -o 10001 -g 10001 -m 0750 /run/acexy /var/lib/acexy /var/log/acexy
mount -t proc proc "$rootfs/proc"

missing=$(chroot "$rootfs" sh -c 'for p in /usr/local/bin/*; do ldd "$p" | grep "not found" | sed "s|^|$p: |"; done' || true)
[ -z "$missing" ] || { echo "unresolved libraries in the runtime root:"; echo "$missing"; exit 1; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
eport=$(free_port)
cport=$(free_port)
dport=$(free_port)
# Runs a command as uid 10001 inside the root with the image's environment.
# chroot and env both exec, so a background job's $! is the program itself.
in_root=(chroot --userspec=10001:10001 "$rootfs" env -i PATH=/usr/local/bin:/usr/bin:/bin HOME=/var/lib/acexy
  ACEXY_RUN_DIR=/run/acexy ACEXY_STATE_DIR=/var/lib/acexy DEBUG_LOG_DIR=/var/log/acexy/debug
  ACEXY_HOST=127.0.0.1 ACEXY_PORT="$eport" ACEXY_LISTEN_ADDR="127.0.0.1:$dport"
  ACEXY_CP_LISTEN_ADDR="127.0.0.1:$cport" ACEXY_DRAIN_TIMEOUT=3s)
wait_200() {
  for _ in $(seq 100); do
    [ "$(curl -s -o /dev/null -m 1 -w '%{http_code}' "$1")" = 200 ] && return 0
    sleep 0.1
  done
  echo "no 200 from $1" >&2
  return 1
}

echo "== running the daemons in the root as uid 10001"
"${in_root[@]}" acexy-fake-engine --listen "127.0.0.1:$eport" >"$work/engine.log" 2>&1 &
pids+=($!)
engine=$!
"${in_root[@]}" acexy-controlplane >"$work/cp.log" 2>&1 &
pids+=($!)
cp=$!
wait_200 "http://127.0.0.1:$cport/readyz"
"${in_root[@]}" acexy-dataplane >"$work/dp.log" 2>&1 &
pids+=($!)
dp=$!
wait_200 "http://127.0.0.1:$dport/readyz"
wait_200 "http://127.0.0.1:$dport/livez"
wait_200 "http://127.0.0.1:$cport/livez"
wait_200 "http://127.0.0.1:$dport/metrics"

first=$(curl -s -m 5 "http://127.0.0.1:$dport/ace/getstream?id=smoke" | head -c 188 | od -An -tx1 -N1 | tr -d ' ' || true)
[ "$first" = 47 ] || { echo "stream did not start with 0x47 (got '${first}')"; tail -n 20 "$work/dp.log" "$work/cp.log"; exit 1; }
echo "stream ok (first byte 0x47)"
"${in_root[@]}" acexyctl status
"${in_root[@]}" acexyctl --dataplane status

kill -TERM "$dp"
rc=0; wait "$dp" || rc=$?
[ $rc -eq 0 ] || { echo "dataplane exited $rc after SIGTERM"; exit 1; }
kill -TERM "$cp"
rc=0; wait "$cp" || rc=$?
[ $rc -eq 0 ] || { echo "controlplane exited $rc after SIGTERM"; exit 1; }
kill -TERM "$engine" 2>/dev/null || true
wait "$engine" 2>/dev/null || true
echo "== debootstrap smoke passed: the runtime stage runs acexy"
