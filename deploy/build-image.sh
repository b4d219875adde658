#!/usr/bin/env bash
# Builds acexy's images from deploy/Dockerfile with podman, without a
# registry: the runtime image (production) and the -tools image (the test
# fixtures acexy-fake-engine and acexy-tscheck).
#
# The base image the Dockerfile names (ARG DEBIAN_IMAGE, debian:bookworm-slim)
# is used when podman already has it; otherwise it is made here: debootstrap
# (minbase, slimmed like the official -slim image) from the machine's own apt
# sources, read from /etc/apt/sources.list* at run time, then `podman import`
# under that name. The RUN steps' apt-get uses the same sources (a directory
# mounted read-only over /etc/apt/sources.list.d, so a base image's own
# sources are not used either) and the machine's Acquire:: settings (proxy,
# Check-Valid-Until), never stored in an image.
#
# Cache (outside the repository): the debootstrap root as a tarball under
# ${ACEXY_IMAGE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/acexy-image}, and the
# build-deps stage (compilers, -dev packages) kept as the image
# localhost/acexy-cache:build-deps, so a rebuild after a source change only
# compiles. --clean-cache removes both.
#
#   deploy/build-image.sh [--tag IMAGE] [--tools-tag IMAGE] [--no-tools] [--clean-cache]
#     --tag        runtime image name (default localhost/acexy:dev)
#     --tools-tag  tools image name (default: the --tag repository + "-tools")
# Needs root (debootstrap; podman's storage), and podman, buildah, runc and
# debootstrap (scripts/deps.sh). Prints the images' names and sizes.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

tag=localhost/acexy:dev
tools_tag=""
tools=1
clean=0
while [ $# -gt 0 ]; do
  case "$1" in
    --tag) tag=$2; shift 2 ;;
    --tools-tag) tools_tag=$2; shift 2 ;;
    --no-tools) tools=0; shift ;;
    --clean-cache) clean=1; shift ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "build-image: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
if [ -z "$tools_tag" ]; then
  repo=${tag%:*}
  [ "$repo" = "$tag" ] && tools_tag="$tag-tools" || tools_tag="$repo-tools:${tag##*:}"
fi

for tool in podman debootstrap python3; do
  command -v "$tool" >/dev/null || { echo "build-image: $tool missing: run scripts/deps.sh" >&2; exit 1; }
done
[ "$(id -u)" -eq 0 ] || { echo "build-image: run as root (debootstrap, podman storage)" >&2; exit 1; }
export CONTAINERS_CONF=${CONTAINERS_CONF:-$root/deploy/podman/containers.conf}
pm() { podman --runtime runc "$@"; }

cache=${ACEXY_IMAGE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/acexy-image}
deps_image=localhost/acexy-cache:build-deps
base=$(sed -n 's/^ARG DEBIAN_IMAGE=//p' deploy/Dockerfile)
suite=${base##*:}
suite=${suite%-slim}
arch=$(dpkg --print-architecture)
tarball=$cache/debian-$suite-$arch-slim.tar
if [ $clean -eq 1 ]; then
  rm -f "$tarball"
  pm rmi --ignore "$deps_image" >/dev/null
  echo "build-image: cache cleaned ($tarball, $deps_image)"
  exit 0
fi

work=$(mktemp -d /tmp/acexy-image.XXXXXX)
trap 'rm -rf "$work"' EXIT
t0=$(date +%s)
log() { echo "build-image: [$(($(date +%s) - t0))s] $*"; }

# ---- the machine's apt sources, for debootstrap and the RUN steps ----
mirror=$(python3 deploy/podman/host-apt-sources.py "$suite" --mirror)
mkdir -p "$work/apt/sources.list.d"
python3 deploy/podman/host-apt-sources.py "$suite" --sources >"$work/apt/sources.list.d/host.sources"
# Only what decides whether and how the archive is reached.
apt-config dump | grep -E '^Acquire::(Check-Valid-Until|Check-Date|https?::Proxy)' >"$work/apt/host.conf" || true

# ---- the base image ----
make_rootfs() {
  local r=$work/rootfs include=()
  grep -q '^URIs: https:' "$work/apt/sources.list.d/host.sources" && include=(--include=ca-certificates)
  log "debootstrap $suite (minbase) from the machine's apt source"
  debootstrap --variant=minbase "${include[@]}" "$suite" "$r" "$mirror" >"$work/debootstrap.log" 2>&1 ||
    { tail -n 20 "$work/debootstrap.log" >&2; return 1; }
  # Slim like the official -slim images: no documentation, manuals or
  # translations now or from later installs; no package lists; no apt
  # source (the mirror is the build machine's, given at build time).
  cat >"$r/etc/dpkg/dpkg.cfg.d/slim" <<'CFG'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/lintian/*
CFG
  cat >"$r/etc/apt/apt.conf.d/docker-clean" <<'CFG'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
CFG
  echo 'Acquire::GzipIndexes "true";' >"$r/etc/apt/apt.conf.d/docker-gzip-indexes"
  find "$r/usr/share/doc" -mindepth 1 -not -name copyright -not -type d -delete
  find "$r/usr/share/doc" -mindepth 1 -type d -empty -delete
  rm -rf "$r/usr/share/man/"* "$r/usr/share/info/"* "$r/usr/share/locale/"* "$r/usr/share/lintian" \
    "$r/var/lib/apt/lists/"* "$r/var/cache/apt/"*.bin "$r/var/cache/apt/archives/"*.deb \
    "$r/var/log/"*.log "$r/var/log/apt/"* "$r/etc/apt/sources.list" "$r/etc/apt/sources.list.d/"* \
    "$r/etc/hostname" "$r/etc/machine-id"
  : >"$r/etc/resolv.conf"
  mkdir -p "$cache"
  tar --numeric-owner --xattrs -C "$r" -cf "$tarball.tmp" .
  mv "$tarball.tmp" "$tarball"
  rm -rf "$r"
}
if pm image exists "$base"; then
  log "base image $base: present"
else
  [ -s "$tarball" ] || make_rootfs
  log "podman import $tarball as $base"
  pm import -q --change 'CMD ["bash"]' \
    --message "debootstrap $suite minbase (deploy/build-image.sh)" "$tarball" "$base" >/dev/null
fi

# ---- the images ----
build() { # TARGET TAG
  pm build --pull=never --network host --layers --format oci \
    --ignorefile deploy/Dockerfile.dockerignore -f deploy/Dockerfile \
    -v "$work/apt/sources.list.d:/etc/apt/sources.list.d:ro" \
    -v "$work/apt/host.conf:/etc/apt/apt.conf.d/99acexy-build-host:ro" \
    --build-arg "ACEXY_VERSION=$(git describe --tags --always --dirty 2>/dev/null || echo dev)" \
    --build-arg "ACEXY_REVISION=$(git rev-parse HEAD 2>/dev/null || echo unknown)" \
    --target "$1" -t "$2" . >"$work/build-$1.log" 2>&1 ||
    { tail -n 40 "$work/build-$1.log" >&2; echo "build-image: podman build --target $1 failed" >&2; return 1; }
}
log "build-deps stage (cached as $deps_image)"
build build-deps "$deps_image"
log "runtime image $tag"
build runtime "$tag"
if [ $tools -eq 1 ]; then
  log "tools image $tools_tag"
  build tools "$tools_tag"
fi
# The build stage's image is only needed while the targets above copy from
# it; drop the unnamed ones (this run's and older ones), nothing else.
pm image prune -f --filter label=org.acexy.stage=build >/dev/null
for i in "$tag" $([ $tools -eq 1 ] && echo "$tools_tag"); do
  log "$(pm image inspect --format '{{.Size}}' "$i" | awk -v n="$i" '{ printf "%s: %.1f MB (%d bytes)", n, $1 / 1e6, $1 }')"
done
