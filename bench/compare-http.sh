#!/usr/bin/env bash
# KB Nova's HTTP search and the seed stack (FastAPI + sentence-transformers + Chroma, bench/seed_stack)
# under the same load in one run: same documents, same model folder, same test queries, 127.0.0.1 only.
# Three runs per concurrency level: nova cold (query cache off), nova warm (cache on, queries repeat),
# seed (dense only, as that stack does). Results: bench/results/http-*.json and a ratio table.
#   bash bench/compare-http.sh [BEIR_DIR]        # default ../shared/datasets/scifact
#   DURATION=20 LEVELS=1,8,32 bash bench/compare-http.sh
#   PROFILE=dev (the test build instead of release), INT8=0 (skip the int8 cold run: the same server with
#   model.precision = "int8", searching the same fp32-built KB)
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
source scripts/bench-build.sh

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
run_nova() { # label cache_entries [precision]
  NOVA_MODEL__PRECISION="${3:-fp32}" NOVA_SERVER__QUERY_CACHE="$2" "$KB_NOVA_BIN" serve --addr "127.0.0.1:$PORT" > /dev/null 2>&1 &
  local pid=$!
  wait_ready "http://127.0.0.1:$PORT/readyz"
  "$KB_NOVA_BIN" bench http --url "http://127.0.0.1:$PORT/" --kb "eval-$NAME" --queries "$OUT/queries-$NAME.jsonl" \
    --concurrency "$LEVELS" --duration "$DURATION" --label "$1" --out "$OUT/http-$1.json"
  kill -TERM "$pid"; wait "$pid" || true
}
run_nova nova-cold 0
run_nova nova-warm 10000
if [ "${INT8:-1}" = 1 ]; then run_nova nova-cold-int8 0 int8; fi
(cd bench/seed_stack && SEED_MODEL="$ROOT/models/all-MiniLM-L6-v2" "$PY" -m uvicorn app:app --host 127.0.0.1 --port $((PORT + 1)) --log-level warning) &
SEED=$!
wait_ready "http://127.0.0.1:$((PORT + 1))/healthz"
NOVA_KEY= "$KB_NOVA_BIN" bench http --url "http://127.0.0.1:$((PORT + 1))/" --kb "$NAME" --queries "$OUT/queries-$NAME.jsonl" \
  --concurrency "$LEVELS" --duration "$DURATION" --mode dense --label seed --out "$OUT/http-seed.json"
kill -TERM "$SEED"; wait "$SEED" || true

# The host's arithmetic ceiling for cold queries, measured now: the sgemm peak of one core (from a
# short `nova bench embed`) × cores ÷ the FLOPs of one forward pass over the average test query.
"$KB_NOVA_BIN" bench embed --thread-counts 1 --batch-sizes 0 --min-seconds 1 \
  --queries "$OUT/queries-$NAME.jsonl" --out "$OUT/http-peak.json" > /dev/null 2>&1

"$PY" - "$OUT" "${INT8:-1}" "$ROOT/models/all-MiniLM-L6-v2" "$(nproc)" <<'PY'
import json, sys
out, int8, model, cores = sys.argv[1], sys.argv[2] == "1", sys.argv[3], int(sys.argv[4])
names = ["nova-cold", "nova-warm", "seed"] + (["nova-cold-int8"] if int8 else [])
runs = {n: {l["concurrency"]: l for l in json.load(open(f"{out}/http-{n}.json"))["levels"]} for n in names}
cols = [("nova cold", "nova-cold"), ("nova warm", "nova-warm")] + ([("cold int8", "nova-cold-int8")] if int8 else []) + [("seed", "seed")]
print(f"{'c':>3} | " + " | ".join(f"{label + ' rps':>14} {'p50':>6} {'p95':>6}" for label, _ in cols) + " | cold/seed" + (" | int8/seed" if int8 else ""))
for c in sorted(runs["seed"]):
    row = [runs[name][c] for _, name in cols]
    line = f"{c:>3} | " + " | ".join(f"{r['rps']:>14.1f} {r['p50_ms']:>6.1f} {r['p95_ms']:>6.1f}" for r in row)
    line += f" | {runs['nova-cold'][c]['rps'] / runs['seed'][c]['rps']:>8.1f}x"
    if int8:
        line += f" | {runs['nova-cold-int8'][c]['rps'] / runs['seed'][c]['rps']:>8.1f}x"
    print(line)
cfg = json.load(open(f"{model}/config.json"))
peak_case = json.load(open(f"{out}/http-peak.json"))["cases"][0]
l, h, inter = peak_case["avg_tokens"], cfg["hidden_size"], cfg["intermediate_size"]
flops = cfg["num_hidden_layers"] * (2 * l * h * (4 * h + 2 * inter) + 4 * l * l * h)
ceiling = cores * peak_case["sgemm_peak_gflops"] * 1e9 / flops
print(f"arithmetic ceiling: {cores} cores x {peak_case['sgemm_peak_gflops']:.0f} GFLOP/s sgemm peak / "
      f"{flops / 1e9:.2f} GFLOP per query ({l:.1f} tokens) = {ceiling:.0f} cold queries/s")
for label, name in [("nova cold", "nova-cold")] + ([("cold int8", "nova-cold-int8")] if int8 else []):
    if 8 in runs[name]:
        print(f"  {label} at c=8: {100 * runs[name][8]['rps'] / ceiling:.0f} % of the ceiling")
PY
