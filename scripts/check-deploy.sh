#!/usr/bin/env bash
# Checks the deploy files (deploy/, see doc/OPERATIONS.md) offline:
#   1. runtime packages: the Debian packages that the built programs' shared
#      libraries come from (ldd → dpkg -S) are all installed by the final stage
#      of deploy/Dockerfile (skipped, with a message, only when BIN_DIR is absent)
#   2. Dockerfile rules (multi-stage bookworm-slim, runtime-only final stage,
#      fixed non-root uid, exec-form ENTRYPOINT, OCI labels, no arch names)
#   3. yamllint --strict on every YAML file under deploy/
#   4. Kubernetes: render base and every overlay, validate every object against
#      the Kubernetes schemas offline, check references and acexy's pod rules,
#      compare with `kubectl kustomize` when one is installed
#   5. Compose: `docker-compose config` on each variant, then acexy's rules
#   6. systemd: systemd-analyze verify (in a scratch root holding the programs)
#      and systemd-analyze security --offline, plus the units' own rules
#   7. config smoke: --check-config accepts the Kubernetes ConfigMap's
#      acexy.yaml (and refuses a bad one with 2), both daemons start with it,
#      answer /livez and /readyz, acexyctl reaches both, SIGTERM ends both
#      with status 0 (needs BIN_DIR)
# Needs what scripts/deps.sh installs (yamllint, docker-compose, node/npm,
# systemd-analyze, objdump); runs npm ci in tests/deploy; fails loudly.
#
#   scripts/check-deploy.sh [BIN_DIR]      # BIN_DIR defaults to build/bin
set -uo pipefail
cd "$(dirname "$0")/.."
root=$PWD
bindir=${1:-build/bin}
[ -d "$bindir" ] && bindir=$(cd "$bindir" && pwd)

passed=0
failed=0
skipped=0
tmp=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
  rm -rf "$tmp"
}
trap cleanup EXIT

ok() { passed=$((passed + 1)); echo "ok   $1 ($2 s)"; }
bad() { failed=$((failed + 1)); echo "FAIL $1 ($2 s)"; }
skip() { skipped=$((skipped + 1)); echo "SKIP $1: $2"; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
# run NAME FUNCTION: runs a step, prints its output on failure.
run() {
  local name=$1 fn=$2 t0 out
  t0=$(now)
  out="$tmp/step.out"
  if "$fn" >"$out" 2>&1; then
    ok "$name" "$(since "$t0")"
    [ -n "${VERBOSE:-}" ] && sed 's/^/     /' "$out"
  else
    bad "$name" "$(since "$t0")"
    sed 's/^/     /' "$out"
  fi
  return 0
}
die() { echo "check-deploy: $*" >&2; exit 1; }

# ---- tools (installed by scripts/deps.sh, the project's one package list) ----
for tool in yamllint docker-compose node npm systemd-analyze objdump curl; do
  command -v "$tool" >/dev/null || die "$tool missing: run scripts/deps.sh"
done
node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 18 ? 0 : 1)' || die "node >= 18 needed, have $(node --version)"
if [ ! -f tests/deploy/node_modules/.package-lock.json ] ||
  [ tests/deploy/package-lock.json -nt tests/deploy/node_modules/.package-lock.json ]; then
  (cd tests/deploy && npm ci --no-audit --no-fund --loglevel=error >/dev/null) || die "npm ci in tests/deploy failed"
fi

# ---- 1. runtime packages from the binaries ----
# Each image stage installs exactly the packages its programs' shared
# libraries come from: a missing one breaks the image, an extra one is dead
# weight and attack surface. Packages that are data, not libraries, are
# allowed by name with the reason.
runtime_programs=(acexy-dataplane acexy-controlplane acexyctl)
tools_programs=(acexy-fake-engine acexy-tscheck)
programs=("${runtime_programs[@]}" "${tools_programs[@]}")
declare -A allowed_extra=([ca-certificates]="CA bundle for an https orchestrator or engine (runtime only)")
dockerfile=deploy/Dockerfile

# The lines of the stage named $1 (FROM ... AS $1 up to the next FROM),
# continuations joined.
stage_text() {
  awk -v s="$1" '/^FROM[ \t]/ { on = ($NF == s && $(NF - 1) ~ /^[Aa][Ss]$/) } on' "$dockerfile" |
    sed -e ':a' -e '/\\$/N; s/\\\n/ /; ta'
}
# The final stage: lines after the last FROM, continuations joined.
final_stage() {
  awk 'FNR == 1 { n = 0 } /^FROM[ \t]/ { n = NR } { line[NR] = $0 } END { for (i = n; i <= NR; i++) print line[i] }' "$dockerfile" |
    sed -e ':a' -e '/\\$/N; s/\\\n/ /; ta'
}
# Packages installed by apt-get install in the stage text on stdin.
installed_packages() {
  grep -E 'apt-get( -[^ ]+)* install' | sed -e 's/.*apt-get[^&]* install//' -e 's/&&.*//' |
    tr ' \t' '\n\n' | grep -Ev '^(-.*|)$' | sort -u
}
final_packages() { final_stage | installed_packages; }

# Packages every debian:bookworm-slim image has: Essential or Priority
# required, and what those depend on directly (libc6, libgcc-s1, ...).
base_packages() {
  dpkg-query -W -f='${Package}\t${Essential}\t${Priority}\t${Pre-Depends}, ${Depends}\n' 2>/dev/null |
    awk -F'\t' '$2 == "yes" || $3 == "required" { print $1; n = split($4, d, /[,|]/); for (i = 1; i <= n; i++) { sub(/^ +/, "", d[i]); sub(/[ :(].*/, "", d[i]); if (d[i] != "") print d[i] } }' |
    sort -u
}

# The Debian packages that hold the given programs' direct shared-library
# dependencies (ELF NEEDED entries, resolved to paths by ldd).
derive_packages() {
  local prog lib path pkg base
  base=$(base_packages)
  for prog in "$@"; do
    [ -x "$bindir/$prog" ] || { echo "no $prog in $bindir" >&2; echo "?$prog"; continue; }
    if ldd "$bindir/$prog" | grep -q 'not found'; then
      echo "$prog: unresolved libraries: $(ldd "$bindir/$prog" | grep 'not found' | tr -s ' \t' ' ')" >&2
      echo "?$prog"
      continue
    fi
    objdump -p "$bindir/$prog" | awk '$1 == "NEEDED" { print $2 }' | while read -r lib; do
      path=$(ldd "$bindir/$prog" | awk -v l="$lib" '$1 == l && $2 == "=>" { print $3 }')
      pkg=""
      for cand in "$path" "$(readlink -f "$path")" "${path#/usr}" "/usr${path}"; do
        [ -n "$cand" ] || continue
        pkg=$(dpkg -S "$cand" 2>/dev/null | head -n1 | cut -d: -f1) && [ -n "$pkg" ] && break
      done
      [ -n "$pkg" ] || { echo "$prog: $lib (${path:-unresolved}) belongs to no Debian package" >&2; echo "?$lib"; continue; }
      echo "$prog needs $lib from $pkg" >&2
      echo "$base" | grep -qx "$pkg" && continue
      echo "$pkg"
    done
  done | sort -u
}

# check_stage_packages STAGE PROGRAM...: the stage installs exactly the
# packages derived from the programs (plus allowed data packages).
check_stage_packages() {
  local stage=$1 need have missing=() extra=() p
  shift
  need=$(derive_packages "$@") || return 1
  if echo "$need" | grep -q '^?'; then return 1; fi
  have=$(stage_text "$stage" | installed_packages)
  echo "stage $stage: derived from $*: $(echo "$need" | tr '\n' ' ')"
  echo "stage $stage: installs:     $(echo "$have" | tr '\n' ' ')"
  for p in $need; do
    echo "$have" | grep -qx "$p" || missing+=("$p")
  done
  for p in $have; do
    echo "$need" | grep -qx "$p" && continue
    [ "$stage" = runtime ] && [ -n "${allowed_extra[$p]:-}" ] && { echo "stage $stage: $p allowed: ${allowed_extra[$p]}"; continue; }
    extra+=("$p")
  done
  [ ${#missing[@]} -gt 0 ] && echo "deploy/Dockerfile stage $stage does not install: ${missing[*]}"
  [ ${#extra[@]} -gt 0 ] && echo "deploy/Dockerfile stage $stage installs what no program of it links: ${extra[*]}"
  [ ${#missing[@]} -eq 0 ] && [ ${#extra[@]} -eq 0 ]
}
check_runtime_packages() {
  command -v objdump >/dev/null || { echo "objdump missing (binutils)"; return 1; }
  local errs=0
  check_stage_packages runtime "${runtime_programs[@]}" || errs=1
  check_stage_packages tools "${tools_programs[@]}" || errs=1
  return $errs
}

# ---- 2. Dockerfile rules ----
check_dockerfile() {
  local errs=0 fs nfrom
  fs=$(final_stage)
  e() { echo "$*"; errs=1; }
  nfrom=$(grep -cE '^FROM[ \t]' "$dockerfile")
  [ "$nfrom" -ge 2 ] || e "must be multi-stage (build + runtime)"
  grep -qE '^ARG DEBIAN_IMAGE=debian:bookworm-slim$' "$dockerfile" || e "base image must be debian:bookworm-slim (ARG DEBIAN_IMAGE)"
  # every stage starts from the base image or an earlier stage
  grep -E '^FROM[ \t]' "$dockerfile" | awk '{ if ($2 != "${DEBIAN_IMAGE}" && !seen[$2]) print "stage from " $2 " (neither ${DEBIAN_IMAGE} nor an earlier stage)"; seen[$NF] = 1 }' | grep . && e "(above)"
  grep -qiE '^FROM[ \t].* AS runtime$' "$dockerfile" && final_stage | head -n1 | grep -qiE ' AS runtime$' || e "the last stage (the default target) must be the runtime stage"
  grep -qiE '^FROM[ \t].* AS tools$' "$dockerfile" || e "the fixtures need a tools stage (--target tools)"
  for p in "${tools_programs[@]}"; do
    grep -rqs "install(TARGETS.*$p.*COMPONENT fixtures" --include=CMakeLists.txt . || e "$p must be installed with COMPONENT fixtures (kept out of the runtime image)"
  done
  for p in "${runtime_programs[@]}"; do
    grep -rqs "install(TARGETS.*$p.*COMPONENT runtime" --include=CMakeLists.txt . || e "$p must be installed with COMPONENT runtime"
  done
  echo "$fs" | grep -q -- '--component' && e "the runtime stage copies installed trees, it does not install"
  stage_text build | grep -q 'cmake --install build-image --prefix /opt/acexy --strip --component runtime' || e "build stage must install the runtime component into /opt/acexy"
  grep -q -- '-DACEXY_TESTS=OFF' "$dockerfile" || e "build stage must configure with -DACEXY_TESTS=OFF"
  grep -q 'cmake --install' "$dockerfile" || e "build stage must cmake --install"
  echo "$fs" | grep -q 'apt-get install' || e "final stage installs no runtime packages"
  echo "$fs" | grep 'apt-get install' | grep -vq -- '--no-install-recommends' && e "final stage: apt-get install without --no-install-recommends"
  echo "$fs" | grep -q 'rm -rf /var/lib/apt/lists' || e "final stage must remove /var/lib/apt/lists"
  final_packages | grep -E -- '-dev$|^(build-essential|cmake|gcc|clang|pkg-config)$' && e "final stage installs build packages (above)"
  echo "$fs" | grep -qE '^USER 10001(:10001)?$' || e "final stage must run as USER 10001:10001"
  echo "$fs" | grep -q -- '--uid 10001' || e "final stage must create the user with uid 10001"
  echo "$fs" | grep -qE '^ENTRYPOINT \["acexy-dataplane"\]$' || e "ENTRYPOINT must be exec form [\"acexy-dataplane\"]"
  for l in title description version revision source; do
    echo "$fs" | grep -q "org.opencontainers.image.$l=" || e "missing OCI label org.opencontainers.image.$l"
  done
  echo "$fs" | grep -q 'COPY --from=build /opt/acexy/bin/ /usr/local/bin/' || e "final stage must copy every installed program"
  grep -v '^[[:space:]]*#' "$dockerfile" | grep -nEi 'x86_64|amd64|aarch64|arm64|armhf|armv7|i386|--platform' && e "architecture-specific text (above)"
  grep -q 'Dockerfile.dockerignore' "$dockerfile" && [ -f deploy/Dockerfile.dockerignore ] || e "deploy/Dockerfile.dockerignore missing or undocumented"
  # the image's programs must be those CMake installs
  for p in "${programs[@]}"; do
    grep -rqs "install(TARGETS.*$p" --include=CMakeLists.txt . || e "no CMake install() rule for $p"
  done
  return $errs
}

# ---- 3. yamllint ----
check_yamllint() {
  yamllint --strict -c deploy/yamllint.yaml deploy/
}

# ---- 4. Kubernetes ----
check_k8s() {
  node tests/deploy/check-k8s.mjs --out "$tmp/rendered"
}

# ---- 5. Compose ----
check_compose() {
  local f n=0 args=()
  for f in compose.yaml compose.single-engine.yaml "compose.single-engine.yaml compose.demo.yaml"; do
    n=$((n + 1))
    local files=()
    for x in $f; do files+=(-f "deploy/compose/$x"); done
    docker-compose --env-file deploy/compose/.env.example "${files[@]}" config >"$tmp/compose$n.yaml" ||
      { echo "docker-compose config failed for $f"; return 1; }
    args+=("${f// /+}=$tmp/compose$n.yaml")
  done
  node tests/deploy/check-compose.mjs "${args[@]}"
}

# ---- 6. systemd ----
check_systemd() {
  local errs=0 vroot=$tmp/systemd-root u p out
  e() { echo "$*"; errs=1; }
  mkdir -p "$vroot/usr/local/bin" "$vroot/etc/systemd/system" "$vroot/usr/lib/systemd"
  cp -a /usr/lib/systemd/system "$vroot/usr/lib/systemd/"
  cp deploy/systemd/*.service "$vroot/etc/systemd/system/"
  for p in acexy-controlplane acexy-dataplane; do
    if [ -x "$bindir/$p" ]; then
      cp "$bindir/$p" "$vroot/usr/local/bin/"
    else
      # verify insists on an executable at ExecStart's path
      echo "note: $bindir/$p absent: verifying against a stub executable"
      printf '#!/bin/sh\nexit 0\n' >"$vroot/usr/local/bin/$p"
      chmod +x "$vroot/usr/local/bin/$p"
    fi
  done
  out=$(systemd-analyze verify --root="$vroot" acexy-controlplane.service acexy-dataplane.service 2>&1) || e "systemd-analyze verify failed"
  [ -n "$out" ] && e "systemd-analyze verify: $out"
  for u in acexy-controlplane acexy-dataplane; do
    out=$(systemd-analyze security --root="$vroot" --offline=yes --threshold=20 "$u.service" 2>&1) ||
      e "$u: exposure above 2.0: $(echo "$out" | tail -n1)"
    echo "$u: $(echo "$out" | tail -n1)"
    f=deploy/systemd/$u.service
    for want in 'User=acexy' 'RuntimeDirectory=acexy' 'RuntimeDirectoryPreserve=yes' 'StateDirectory=acexy' \
      'ConfigurationDirectory=acexy' 'Environment=ACEXY_CONFIG=/etc/acexy/acexy.yaml' 'Restart=on-failure' \
      'LimitNOFILE=65536' 'NoNewPrivileges=yes' 'ProtectSystem=strict' 'ProtectHome=yes' 'PrivateTmp=yes' \
      'PrivateDevices=yes' 'RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6' 'SystemCallFilter=@system-service' \
      'CapabilityBoundingSet=' "ExecStart=/usr/local/bin/$u" 'Type=notify' 'NotifyAccess=main' \
      'WatchdogSec=30s' 'ProcSubset=pid' 'PrivateMounts=yes'; do
      grep -qx "$want" "$f" || e "$f: needs $want"
    done
  done
  f=deploy/systemd/acexy-dataplane.service
  grep -q '^Requires=' "$f" && e "$f: no Requires= (the daemons restart independently)"
  grep -qE '^After=.*acexy-controlplane\.service' "$f" || e "$f: After=acexy-controlplane.service"
  grep -qE '^Wants=.*acexy-controlplane\.service' "$f" || e "$f: Wants=acexy-controlplane.service"
  local stop drain=25
  stop=$(sed -n 's/^TimeoutStopSec=\([0-9]*\)s\{0,1\}$/\1/p' "$f")
  [ -n "$stop" ] && [ "$stop" -gt "$drain" ] || e "$f: TimeoutStopSec must exceed the ${drain}s drain timeout"
  grep -qE '^u acexy ' deploy/systemd/acexy.sysusers.conf || e "deploy/systemd/acexy.sysusers.conf must create user acexy"
  return $errs
}

# ---- 7. config smoke with the real programs ----
http_code() { curl -s -o /dev/null -m 2 -w '%{http_code}' "$1" 2>/dev/null; }
wait_for() { # URL CODE SECONDS
  local i
  for ((i = 0; i < $3 * 10; i++)); do
    [ "$(http_code "$1")" = "$2" ] && return 0
    sleep 0.1
  done
  echo "$1 did not answer $2 within $3 s (last: $(http_code "$1"))"
  return 1
}
free_port() { node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }
check_smoke() {
  local d=$tmp/smoke cp dp rc errs=0 cpport dpport
  mkdir -p "$d"
  # the file the base's configMapGenerator makes the ConfigMap from
  cp deploy/k8s/base/acexy.yaml "$d/acexy.yaml"
  # what a deploy repository's CI runs on its acexy.yaml (doc/OPERATIONS.md)
  for p in acexy-controlplane acexy-dataplane; do
    ACEXY_CONFIG=$d/acexy.yaml "$bindir/$p" --check-config >"$d/check.out" 2>&1 ||
      { echo "$p --check-config on the ConfigMap's acexy.yaml failed: $(tail -n 3 "$d/check.out")"; errs=1; }
    printf 'drain_timeout: soon\n' >"$d/bad.yaml"
    ACEXY_CONFIG=$d/bad.yaml "$bindir/$p" --check-config >"$d/check.out" 2>&1
    rc=$?
    [ $rc -eq 2 ] || { echo "$p --check-config on a bad file: exit $rc, expected 2"; errs=1; }
  done
  cpport=$(free_port)
  dpport=$(free_port)
  # The file is the pod's; the environment moves paths and ports into scratch space.
  export ACEXY_CONFIG=$d/acexy.yaml ACEXY_RUN_DIR=$d/run ACEXY_STATE_DIR=$d/state DEBUG_LOG_DIR=$d/debug \
    ACEXY_LISTEN_ADDR=127.0.0.1:$dpport ACEXY_CP_LISTEN_ADDR=127.0.0.1:$cpport ACEXY_DRAIN_TIMEOUT=2s
  "$bindir/acexy-controlplane" >"$d/cp.log" 2>&1 &
  cp=$!
  pids+=("$cp")
  wait_for "http://127.0.0.1:$cpport/readyz" 200 10 || errs=1
  "$bindir/acexy-dataplane" >"$d/dp.log" 2>&1 &
  dp=$!
  pids+=("$dp")
  wait_for "http://127.0.0.1:$dpport/readyz" 200 10 || errs=1
  for u in "$cpport/livez" "$cpport/metrics" "$dpport/livez" "$dpport/metrics" "$dpport/ace/status"; do
    [ "$(http_code "http://127.0.0.1:$u")" = 200 ] || { echo "GET $u: not 200"; errs=1; }
  done
  "$bindir/acexyctl" status >"$d/ctl.out" 2>&1 || { echo "acexyctl status failed: $(cat "$d/ctl.out")"; errs=1; }
  "$bindir/acexyctl" --dataplane status >"$d/ctl.out" 2>&1 || { echo "acexyctl --dataplane status failed: $(cat "$d/ctl.out")"; errs=1; }
  kill -TERM "$dp"
  wait "$dp"
  rc=$?
  [ $rc -eq 0 ] || { echo "dataplane exited $rc after SIGTERM"; errs=1; }
  kill -TERM "$cp"
  wait "$cp"
  rc=$?
  [ $rc -eq 0 ] || { echo "controlplane exited $rc after SIGTERM"; errs=1; }
  if [ $errs -ne 0 ]; then
    echo "--- controlplane log"; tail -n 20 "$d/cp.log"
    echo "--- dataplane log"; tail -n 20 "$d/dp.log"
  fi
  return $errs
}

have_bins=1
[ -d "$bindir" ] || have_bins=0
if [ $have_bins -eq 1 ]; then
  run "runtime packages of $bindir match deploy/Dockerfile" check_runtime_packages
else
  skip "runtime packages" "$bindir does not exist (build first: cmake -B build && cmake --build build)"
fi
run "Dockerfile rules" check_dockerfile
run "yamllint deploy/" check_yamllint
run "Kubernetes render + schema + rules (tests/deploy/check-k8s.mjs)" check_k8s
run "Compose config + rules" check_compose
run "systemd verify + security + rules" check_systemd
if [ $have_bins -eq 1 ]; then
  run "config smoke: both daemons with the ConfigMap's acexy.yaml" check_smoke
else
  skip "config smoke" "$bindir does not exist"
fi
echo "check-deploy: $passed passed, $failed failed, $skipped skipped"
[ $failed -eq 0 ]
