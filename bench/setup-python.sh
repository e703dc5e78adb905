#!/usr/bin/env bash
# Creates the Python environment for the peer baselines in $KB_NOVA_CACHE/venv (outside the clone) and
# prints the interpreter's path. Idempotent.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/scripts/env.sh"
VENV="$KB_NOVA_CACHE/venv"
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
if ! "$VENV/bin/python" -c "import sentence_transformers, bm25s, chromadb, fastapi, uvicorn, openai, onnxruntime, onnx" 2>/dev/null; then
  "$VENV/bin/pip" install --quiet --disable-pip-version-check -r "$ROOT/bench/requirements.txt" >&2
fi
echo "$VENV/bin/python"
