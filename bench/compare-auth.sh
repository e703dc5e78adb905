#!/usr/bin/env bash
# The cost of access control on warm hybrid search: the same server, data and queries with
# auth.mode = "off", with an API key and with a JWT (EdDSA, from `nova bench auth --write`) on every
# request, alternated (off, key, jwt, off, …; ROUNDS, default 3) in one run so the host's drift hits all
# alike; the table averages the rounds. Then the in-process cost of each check (`nova bench auth`), which
# the host's noise cannot hide. 127.0.0.1 only. Results: bench/results/auth-*.json and a table.
#   bash bench/compare-auth.sh [BEIR_DIR]        # default ../shared/datasets/scifact (indexed by nova eval)
#   DURATION=20 LEVELS=1,8 bash bench/compare-auth.sh
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
source scripts/env.sh
DATASET="$(cd "${1:-../shared/datasets/scifact}" && pwd)"
NAME="$(basename "$DATASET")"
DURATION="${DURATION:-15}"
LEVELS="${LEVELS:-1,8}"
ROUNDS="${ROUNDS:-3}"
OUT=bench/results
mkdir -p "$OUT"
cargo build --locked --bin nova
python3 bench/judged_queries.py "$DATASET" "$OUT/queries-$NAME.jsonl"
"$KB_NOVA_BIN" eval --dataset "$DATASET" --modes bm25 > /dev/null   # index once (idempotent)
KEY_NAME="bench-auth-$$"
KEY="$("$KB_NOVA_BIN" keys create --name "$KEY_NAME" --role reader 2>/dev/null | tail -1)"
trap '"$KB_NOVA_BIN" keys revoke "$KEY_NAME" > /dev/null 2>&1 || true' EXIT
"$KB_NOVA_BIN" bench auth --write "$OUT/auth-jwt" --out "$OUT/auth-inprocess.json" > /dev/null
JWT="$(cat "$OUT/auth-jwt/token")"
PORT=18280
run() { # label auth-mode credential round [config]
  NOVA_AUTH__MODE="$2" "$KB_NOVA_BIN" ${5:+--config "$5"} serve --addr "127.0.0.1:$PORT" > /dev/null 2>&1 &
  local pid=$!
  for _ in $(seq 1 600); do curl -sf "http://127.0.0.1:$PORT/readyz" > /dev/null && break; sleep 0.2; done
  NOVA_KEY="$3" "$KB_NOVA_BIN" bench http --url "http://127.0.0.1:$PORT/" --kb "eval-$NAME" \
    --queries "$OUT/queries-$NAME.jsonl" --concurrency "$LEVELS" --duration "$DURATION" \
    --label "$1" --out "$OUT/auth-$1-$4.json" > /dev/null
  kill -TERM "$pid"; wait "$pid" || true
}
arm() { # name round
  case "$1" in
    off) run off off "" "$2" ;;
    key) run key required "$KEY" "$2" ;;
    jwt) run jwt required "$JWT" "$2" "$OUT/auth-jwt/nova-jwt.toml" ;;
  esac
}
# The order turns every round (off key jwt, key jwt off, jwt off key), so no arm always runs first
# on a freshly warmed host or last on a tired one.
ARMS=(off key jwt)
for round in $(seq 1 "$ROUNDS"); do
  for i in 0 1 2; do arm "${ARMS[$(( (i + round - 1) % 3 ))]}" "$round"; done
done
python3 - "$OUT" "$ROUNDS" <<'PY'
import json, sys
out, rounds = sys.argv[1], int(sys.argv[2])
def rps(label):
    runs = [json.load(open(f"{out}/auth-{label}-{r}.json"))["levels"] for r in range(1, rounds + 1)]
    return {l["concurrency"]: sum(run[i]["rps"] for run in runs) / rounds for i, l in enumerate(runs[0])}
off, key, jwt = rps("off"), rps("key"), rps("jwt")
print(f"{'c':>3} | {'auth off rps':>12} | {'API key rps':>11} | {'JWT rps':>8} | key/off | jwt/off")
for c in sorted(off):
    print(f"{c:>3} | {off[c]:>12.1f} | {key[c]:>11.1f} | {jwt[c]:>8.1f} | {key[c] / off[c]:.3f}   | {jwt[c] / off[c]:.3f}")
cases = json.load(open(f"{out}/auth-inprocess.json"))["cases"]
c8 = max(off)
# CPU time a search costs at full load: both cores busy, so 2 cores / RPS.
cpu_us = 2 / off[c8] * 1e6
print(f"\nin process (nova bench auth); one warm hybrid search at c={c8} costs ~{cpu_us:.0f} µs of CPU:")
for case in cases:
    share = case["micros_per_call"] / cpu_us * 100
    print(f"  {case['what']:<26} {case['micros_per_call']:>8.2f} µs per call = {share:.2f} % of a search")
PY
