#!/usr/bin/env bash
# The image and the pod, for real: builds the runtime and -tools images with
# podman (deploy/build-image.sh: no registry, a debootstrap base from the
# machine's own apt sources, cached between runs), then runs
# tests/deploy/test_pod.py: the Kubernetes manifests rendered with Kustomize
# (deploy/k8s/overlays/podman) and played with `podman kube play` beside a
# demo engine; probes, a stream, acexyctl in each container, kill -9 of each
# container alone, and the drain when the pod stops; then the scale-out
# topology (overlays/scale-out: the controlplane's own pod with the spool on
# a claim, a dataplane pod joined over tls+tcp:// with make-secrets.sh's
# token and certificates): stream, controlplane restart, drain.
#
#   scripts/test-pod.sh          # a stage of scripts/test.sh
# Skipped, with the reason, where podman cannot run containers (not root,
# no podman); images, pod, containers and volumes it makes are named for the
# run and removed at the end (the build cache stays: deploy/build-image.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

skip() {
  echo "SKIP pod test: $*"
  exit 0
}
[ "$(id -u)" -eq 0 ] || skip "needs root (podman's storage, debootstrap)"
for tool in podman runc debootstrap node; do
  command -v "$tool" >/dev/null || skip "$tool missing (scripts/deps.sh installs it)"
done
export CONTAINERS_CONF=${CONTAINERS_CONF:-$root/deploy/podman/containers.conf}
if ! out=$(podman --runtime runc info 2>&1); then
  skip "podman does not work here: $(echo "$out" | tail -n 1)"
fi
if [ ! -f tests/deploy/node_modules/.package-lock.json ] ||
  [ tests/deploy/package-lock.json -nt tests/deploy/node_modules/.package-lock.json ]; then
  (cd tests/deploy && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
fi

run=podtest$$
image=localhost/acexy-$run:test
tools=localhost/acexy-$run-tools:test
cleanup() {
  podman --runtime runc rmi --ignore "$image" "$tools" >/dev/null 2>&1 || true
}
trap cleanup EXIT

t0=$(date +%s)
deploy/build-image.sh --tag "$image" --tools-tag "$tools"
echo "test-pod: images built in $(($(date +%s) - t0)) s"
ACEXY_POD_IMAGE=$image ACEXY_POD_TOOLS_IMAGE=$tools PYTHONPATH=tests/integration/lib \
  python3 tests/deploy/test_pod.py -v
echo "test-pod: done in $(($(date +%s) - t0)) s"
