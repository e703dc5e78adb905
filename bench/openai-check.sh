#!/usr/bin/env bash
# Starts `nova serve` on a free port (the example KB ingested, answers by the local GGUF model), runs
# bench/openai_check.py (the official openai client) against it: embeddings compared with `nova embed`,
# then /v1/models and /v1/chat/completions (model "kb:default"), non-streaming and streaming.
# Exit code 0 when all hold.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
source scripts/env.sh
PY="${PY:-$(bash bench/setup-python.sh)}"  # any python with `openai` will do
cargo build --locked --bin nova
DATA="$(mktemp -d)"
NOVA_DATA__DIR="$DATA" "$KB_NOVA_BIN" ingest examples/kb > /dev/null
export NOVA_GENERATION__PROVIDER="${NOVA_GENERATION__PROVIDER:-local}"
NOVA_KEY="$(NOVA_DATA__DIR="$DATA" "$KB_NOVA_BIN" keys create --name openai-check --role reader 2>/dev/null | tail -1)"
export NOVA_KEY
NOVA_DATA__DIR="$DATA" "$KB_NOVA_BIN" serve --addr 127.0.0.1:0 > "$DATA/serve.log" 2>&1 &
PID=$!
trap 'kill -TERM $PID 2>/dev/null || true; wait $PID 2>/dev/null || true; rm -rf "$DATA"' EXIT
for _ in $(seq 1 300); do grep -q "http://" "$DATA/serve.log" 2>/dev/null && break; sleep 0.1; done
URL="$(grep -o 'http://[0-9.:]*' "$DATA/serve.log" | head -1)"
for _ in $(seq 1 300); do curl -sf "$URL/readyz" > /dev/null && break; sleep 0.2; done
"$PY" bench/openai_check.py "$URL" "$KB_NOVA_BIN"
