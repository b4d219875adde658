#!/usr/bin/env bash
# Installs every Debian 12 package that acexy's build, run and tests need.
# Idempotent and quiet when everything is present. The single list used by
# README's commands and by .ci/run.
set -euo pipefail

PACKAGES=(
  # build
  build-essential cmake pkg-config git
  # product libraries
  libev-dev libnng-dev libmsgpack-dev libcurl4-openssl-dev libyaml-dev
  libjansson-dev libhttp-parser-dev libmbedtls-dev
  # tests
  libcmocka-dev clang libclang-rt-14-dev clang-format ffmpeg curl python3
  procps iproute2 socat util-linux mount openssl
  # the status page in a headless browser (tests/integration/test_ui.py)
  chromium
  # deploy checks (scripts/check-deploy.sh)
  yamllint docker-compose binutils systemd
  # the image and the pod (deploy/build-image.sh, scripts/test-pod.sh)
  podman buildah runc catatonit debootstrap
)
# Node.js (the deploy checks' schema validation) from Debian unless one is
# already on PATH
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  PACKAGES+=(nodejs npm)
fi
# `scripts/deps.sh --bench`: also what the benchmark compares with
if [ "${1:-}" = "--bench" ]; then
  PACKAGES+=(nginx-light)
fi

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
