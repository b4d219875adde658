#!/usr/bin/env bash
# Writes this overlay's git-ignored secrets: secrets.env with a random
# control token (kept when the file exists), and tls/: a CA, the
# controlplane's certificate (names of its Service in NAMESPACE) and the
# dataplanes' client certificate, each signed by the CA, valid 825 days.
# Existing files are kept; delete them to make new ones (then apply: the
# Secrets' names change and the pods roll).
#   ./make-secrets.sh [--san NAME]... [NAMESPACE]      # default: default
# --san adds a DNS name to the controlplane's certificate (another name the
# dataplanes dial it by, e.g. from outside the cluster).
set -euo pipefail
cd "$(dirname "$0")"
sans=""
while [ "${1:-}" = "--san" ]; do
  sans="$sans,DNS:$2"
  shift 2
done
ns=${1:-default}
command -v openssl >/dev/null || { echo "make-secrets: openssl missing" >&2; exit 1; }
umask 077
if [ ! -f secrets.env ]; then
  printf 'control_token=%s\naccess_token=\n' "$(openssl rand -hex 32)" >secrets.env
  echo "make-secrets: wrote secrets.env (random control_token; access_token empty)"
fi
mkdir -p tls
cd tls
if [ ! -f ca.pem ]; then
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 825 \
    -subj "/CN=acexy control CA" -keyout ca-key.pem -out ca.pem 2>/dev/null
fi
cert() { # NAME CN SAN EKU
  [ -f "$1.pem" ] && return 0
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=$2" \
    -keyout "$1-key.pem" -out "$1.csr" 2>/dev/null
  printf 'subjectAltName=%s\nextendedKeyUsage=%s\nbasicConstraints=CA:FALSE\n' "$3" "$4" >"$1.ext"
  openssl x509 -req -in "$1.csr" -CA ca.pem -CAkey ca-key.pem -CAcreateserial -days 825 \
    -extfile "$1.ext" -out "$1.pem" 2>/dev/null
  rm -f "$1.csr" "$1.ext"
}
svc=acexy-controlplane
cert controlplane "$svc" "DNS:$svc,DNS:$svc.$ns,DNS:$svc.$ns.svc,DNS:$svc.$ns.svc.cluster.local$sans" serverAuth
cert dataplane "acexy-dataplane" "DNS:acexy-dataplane" clientAuth
rm -f ca.srl
echo "make-secrets: tls/ holds ca.pem, controlplane.pem, dataplane.pem and their keys (ca-key.pem: keep it offline)"
