#!/usr/bin/env bash
# KB Nova's HTTP search and the seed stack (FastAPI + sentence-transformers + Chroma, bench/seed_stack)
# under the same load in one run: same documents, same model folder, same test queries, 127.0.0.1 only.
# Three runs per concurrency level: nova cold (query cache off), nova warm (cache on, queries repeat),
# seed (dense only, as that stack does). Results: bench/results/http-*.json and a ratio table.
#   bash bench/compare-http.sh [BEIR_DIR]        # default ../shared/datasets/scifact
#   DURATION=20 LEVELS=1,8,32 bash bench/compare-http.sh
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
source scripts/env.sh
DATASET="$(cd "${1:-../shared/datasets/scifact}" && pwd)"
NAME="$(basename "$DATASET")"
DURATION="${DURATION:-10}"
LEVELS="${LEVELS:-1,8,32}"
PY="$(bash bench/setup-python.sh)"
OUT=bench/results
mkdir -p "$OUT"
cargo build --locked --bin nova

# The judged test queries only, as in nova eval.
"$PY" bench/judged_queries.py "$DATASET" "$OUT/queries-$NAME.jsonl"
echo "indexing (idempotent): nova KB eval-$NAME, seed collection $NAME" >&2
"$KB_NOVA_BIN" eval --dataset "$DATASET" --modes bm25 > /dev/null
(cd bench/seed_stack && SEED_MODEL="$ROOT/models/all-MiniLM-L6-v2" "$PY" app.py index --corpus "$DATASET/corpus.jsonl" --kb "$NAME")

wait_ready() { # url
  for _ in $(seq 1 600); do curl -sf "$1" > /dev/null && return 0; sleep 0.2; done
  echo "server at $1 never became ready" >&2; return 1
}
PORT=18080
# A reader key for the benchmark client, revoked when the script ends.
KEY_NAME="bench-http-$$"
NOVA_KEY="$("$KB_NOVA_BIN" keys create --name "$KEY_NAME" --role reader 2>/dev/null | tail -1)"
export NOVA_KEY
trap '"$KB_NOVA_BIN" keys revoke "$KEY_NAME" > /dev/null 2>&1 || true' EXIT
run_nova() { # label cache_entries
  NOVA_SERVER__QUERY_CACHE="$2" "$KB_NOVA_BIN" serve --addr "127.0.0.1:$PORT" > /dev/null 2>&1 &
  local pid=$!
  wait_ready "http://127.0.0.1:$PORT/readyz"
  "$KB_NOVA_BIN" bench http --url "http://127.0.0.1:$PORT/" --kb "eval-$NAME" --queries "$OUT/queries-$NAME.jsonl" \
    --concurrency "$LEVELS" --duration "$DURATION" --label "$1" --out "$OUT/http-$1.json"
  kill -TERM "$pid"; wait "$pid" || true
}
run_nova nova-cold 0
run_nova nova-warm 10000
(cd bench/seed_stack && SEED_MODEL="$ROOT/models/all-MiniLM-L6-v2" "$PY" -m uvicorn app:app --host 127.0.0.1 --port $((PORT + 1)) --log-level warning) &
SEED=$!
wait_ready "http://127.0.0.1:$((PORT + 1))/healthz"
NOVA_KEY= "$KB_NOVA_BIN" bench http --url "http://127.0.0.1:$((PORT + 1))/" --kb "$NAME" --queries "$OUT/queries-$NAME.jsonl" \
  --concurrency "$LEVELS" --duration "$DURATION" --mode dense --label seed --out "$OUT/http-seed.json"
kill -TERM "$SEED"; wait "$SEED" || true

"$PY" - "$OUT" <<'PY'
import json, sys
out = sys.argv[1]
runs = {n: {l["concurrency"]: l for l in json.load(open(f"{out}/http-{n}.json"))["levels"]} for n in ["nova-cold", "nova-warm", "seed"]}
print(f"{'c':>3} | {'nova cold rps':>13} {'p95 ms':>7} | {'nova warm rps':>13} {'p95 ms':>7} | {'seed rps':>8} {'p95 ms':>7} | cold/seed")
for c in sorted(runs["seed"]):
    a, w, s = runs["nova-cold"][c], runs["nova-warm"][c], runs["seed"][c]
    print(f"{c:>3} | {a['rps']:>13.1f} {a['p95_ms']:>7.1f} | {w['rps']:>13.1f} {w['p95_ms']:>7.1f} | {s['rps']:>8.1f} {s['p95_ms']:>7.1f} | {a['rps'] / s['rps']:.1f}x")
PY
