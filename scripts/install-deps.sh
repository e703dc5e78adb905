#!/usr/bin/env bash
# System libraries the build links against: OpenBLAS (the embedder's matmuls). Installs them with apt-get
# when missing (as root, or through sudo); idempotent and quiet when everything is there.
set -euo pipefail
# No `grep -q`: it exits at the first match, ldconfig then dies of SIGPIPE and pipefail reports failure.
have_openblas() { ldconfig -p 2>/dev/null | grep 'libopenblas\.so ' > /dev/null; }
if have_openblas; then
  exit 0
fi
SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"
echo "deps: installing libopenblas-dev (apt-get)"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq libopenblas-dev >/dev/null
have_openblas || { echo "deps: libopenblas.so still not found; install OpenBLAS or build with --no-default-features" >&2; exit 1; }
