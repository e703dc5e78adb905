#!/usr/bin/env bash
# Soak (docs/reliability.md): MINUTES (default 30) of mixed traffic at RATE requests/s (default 8) —
# of every 20: 12 searches, 5 troubleshoots, 2 one-document ingests, 1 delete — against the real
# `nova serve` on 127.0.0.1 with API keys on, a fresh data folder holding the sample KB. The driver
# (`nova bench soak`) samples the server's RSS and open file descriptors from /proc every window.
# Results: bench/results/soak.json and bench/results/soak.svg (PLOT= to write the SVG elsewhere).
#   bash bench/soak.sh
#   MINUTES=5 RATE=20 bash bench/soak.sh
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
source scripts/env.sh
cargo build --locked --bin nova
export NOVA_MODEL__PATH="$ROOT/models/all-MiniLM-L6-v2"
DATA="$(mktemp -d)"
export NOVA_DATA__DIR="$DATA"
PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
SERVER=""
cleanup() { [ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null; wait 2>/dev/null; rm -rf "$DATA"; }
trap cleanup EXIT

"$KB_NOVA_BIN" ingest examples/kb --kb soak
"$KB_NOVA_BIN" tickets import examples/tickets/resolved.csv --kb soak >/dev/null
export NOVA_KEY="$("$KB_NOVA_BIN" keys create --name soak --role editor --kb soak | tail -n 1)"
"$KB_NOVA_BIN" serve --addr "127.0.0.1:$PORT" 2>"$ROOT/bench/results/soak-server.log" &
SERVER=$!
for _ in $(seq 1 300); do
  curl -fsS "http://127.0.0.1:$PORT/readyz" >/dev/null 2>&1 && break
  sleep 0.5
done
"$KB_NOVA_BIN" bench soak --url "http://127.0.0.1:$PORT/" --kb soak --queries bench/soak-queries.jsonl \
  --pid "$SERVER" --minutes "${MINUTES:-30}" --rate "${RATE:-8}" --window "${WINDOW:-30}" \
  --out bench/results/soak.json --plot "${PLOT:-bench/results/soak.svg}"
