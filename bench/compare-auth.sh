#!/usr/bin/env bash
# The cost of access control on warm hybrid search, as a paired comparison: three servers over identical
# copies of the SciFact KB run at once — auth.mode = "off", an API key on every request, and a JWT
# (EdDSA, from `nova bench auth --write`) on every request — and one `nova bench http --arm …` run sends
# each client's requests to the three in turn, the same query to each. The host's drift (this machine
# swings 3× with its neighbours) then hits all arms alike, which sequential runs cannot promise. At a fixed
# concurrency, throughput is concurrency / mean latency, so the arms' throughput ratio is the inverse
# ratio of their mean latencies. Then the in-process cost of each check (`nova bench auth`).
# 127.0.0.1 only. Results: bench/results/auth-paired.json, auth-inprocess.json and a table.
#   bash bench/compare-auth.sh [BEIR_DIR]        # default ../shared/datasets/scifact (indexed by nova eval)
#   DURATION=120 LEVELS=1,8 bash bench/compare-auth.sh
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
source scripts/env.sh
DATASET="$(cd "${1:-../shared/datasets/scifact}" && pwd)"
NAME="$(basename "$DATASET")"
DURATION="${DURATION:-60}"
LEVELS="${LEVELS:-1,8}"
OUT=bench/results
mkdir -p "$OUT"
cargo build --locked --bin nova
python3 bench/judged_queries.py "$DATASET" "$OUT/queries-$NAME.jsonl"
"$KB_NOVA_BIN" eval --dataset "$DATASET" --modes bm25 > /dev/null   # index once (idempotent)
KEY_NAME="bench-auth-$$"
KEY="$("$KB_NOVA_BIN" keys create --name "$KEY_NAME" --role "${KEY_ROLE:-reader}" 2>/dev/null | tail -1)"
"$KB_NOVA_BIN" bench auth --write "$OUT/auth-jwt" --out "$OUT/auth-inprocess.json" > /dev/null
JWT="$(cat "$OUT/auth-jwt/token")"
# One data folder per server: a KB is open in one process at a time (its writer lock).
PAIRED="$KB_NOVA_CACHE/auth-paired"
rm -rf "$PAIRED"
DATA_DIR="$("$KB_NOVA_BIN" config | sed -n 's/^dir = "\(.*\)"$/\1/p' | head -1)"
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2> /dev/null || true; wait "$pid" 2> /dev/null || true; done
  "$KB_NOVA_BIN" keys revoke "$KEY_NAME" > /dev/null 2>&1 || true
  rm -rf "$PAIRED"
}
trap cleanup EXIT
PORT=18290
ARMS=()
for arm in off key jwt; do
  mkdir -p "$PAIRED/$arm/kbs"
  cp -r "$DATA_DIR/kbs/eval-$NAME" "$PAIRED/$arm/kbs/"
  cp -r "$DATA_DIR/auth" "$PAIRED/$arm/"
  mode=required; config=()
  [ "$arm" = off ] && mode=off
  [ "$arm" = jwt ] && config=(--config "$OUT/auth-jwt/nova-jwt.toml")
  NOVA_DATA__DIR="$PAIRED/$arm" NOVA_AUTH__MODE="$mode" \
    "$KB_NOVA_BIN" "${config[@]}" serve --addr "127.0.0.1:$PORT" > /dev/null 2>&1 &
  PIDS+=($!)
  ARMS+=(--arm "$arm=http://127.0.0.1:$PORT/")
  PORT=$((PORT + 1))
done
for port in 18290 18291 18292; do
  for _ in $(seq 1 600); do curl -sf "http://127.0.0.1:$port/readyz" > /dev/null && break; sleep 0.2; done
done
NOVA_KEY_KEY="$KEY" NOVA_KEY_JWT="$JWT" "$KB_NOVA_BIN" bench http "${ARMS[@]}" --kb "eval-$NAME" \
  --queries "$OUT/queries-$NAME.jsonl" --concurrency "$LEVELS" --duration "$DURATION" \
  --label auth-paired --out "$OUT/auth-paired.json" > /dev/null
python3 - "$OUT" <<'PY'
import json, sys
out = sys.argv[1]
arms = json.load(open(f"{out}/auth-paired.json"))["arms"]
print("interleaved: each client sends the same query to the three servers in turn")
print(f"{'c':>3} | {'off mean ms':>11} | {'key mean ms':>11} | {'JWT mean ms':>11} | key/off thr | jwt/off thr | errors")
for i, off in enumerate(arms["off"]):
    key, jwt = arms["key"][i], arms["jwt"][i]
    errors = off["errors"] + key["errors"] + jwt["errors"]
    print(f"{off['concurrency']:>3} | {off['mean_ms']:>11.2f} | {key['mean_ms']:>11.2f} | {jwt['mean_ms']:>11.2f} | "
          f"{off['mean_ms'] / key['mean_ms']:>11.3f} | {off['mean_ms'] / jwt['mean_ms']:>11.3f} | {errors}")
cases = json.load(open(f"{out}/auth-inprocess.json"))["cases"]
c1 = arms["off"][0]
print(f"\nin process (nova bench auth); one warm hybrid search at c={c1['concurrency']} takes ~{c1['mean_ms'] * 1000:.0f} µs:")
for case in cases:
    share = case["micros_per_call"] / (c1["mean_ms"] * 1000) * 100
    print(f"  {case['what']:<26} {case['micros_per_call']:>8.2f} µs per call = {share:.2f} % of a search")
PY
