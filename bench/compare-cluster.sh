#!/usr/bin/env bash
# The Qdrant-cluster store against the embedded one, in one run on this machine (127.0.0.1 only):
#  1. store writes: the same exported KB imported into the embedded store and into a 3-node loopback
#     cluster (3 shards, 2 replicas) — chunks/s with no embedding in the way;
#  2. search over HTTP (`nova bench http`, query cache off): one `nova serve` on each store, BM25 (where
#     the store is most of the cost) and hybrid (where the model is), concurrency 1 and 8;
#  3. 1 → 2 replicas sharing the cluster: one replica at concurrency 8, then two at 4 each, at once.
# The KB is Cranfield (1,398 abstracts, 2,259 chunks), built once with the embedded store.
# Results: bench/results/cluster-*.json and bench/results/cluster.md.
#   bash bench/compare-cluster.sh            # DURATION=10 (seconds per level)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
source scripts/env.sh
DATASET="$(cd "${1:-../shared/datasets/cranfield}" && pwd)"
DURATION="${DURATION:-10}"
OUT=bench/results
work="$(mktemp -d)"
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  bash scripts/qdrant-cluster.sh stop "$work/cluster" >/dev/null 2>&1 || true
  rm -rf "$work"
}
trap cleanup EXIT
bash scripts/fetch-models.sh >/dev/null
cargo build --locked --bin nova
export NOVA_MODEL__PATH="$ROOT/models/all-MiniLM-L6-v2" NOVA_TRACKING__ENABLED=false NOVA_AUTH__MODE=off
mkdir -p "$OUT"

echo "== the KB (embedded, once)" >&2
NOVA_DATA__DIR="$work/src" "$KB_NOVA_BIN" eval --dataset "$DATASET" --kb cf --out "$OUT/cluster-eval-embedded.json" >&2
NOVA_DATA__DIR="$work/src" "$KB_NOVA_BIN" kb export cf --out "$work/cf.jsonl" >&2

echo "== a 3-node Qdrant cluster on loopback" >&2
bash scripts/qdrant-cluster.sh start "$work/cluster" 3 >/dev/null
urls="$(awk '{printf "%s\"%s\"", (NR>1?",":""), $2}' "$work/cluster/nodes")"
on_cluster=(env NOVA_STORE__KIND=qdrant "NOVA_STORE__QDRANT_URLS=[$urls]" NOVA_STORE__SHARD_NUMBER=3 NOVA_STORE__REPLICATION_FACTOR=2)

chunks_per_s() { # label data_dir [env...]
  local label=$1 data=$2; shift 2
  local start end
  start=$(date +%s.%N)
  "$@" env NOVA_DATA__DIR="$data" "$KB_NOVA_BIN" kb import "$work/cf.jsonl" >&2
  end=$(date +%s.%N)
  python3 -c "import json,sys; n=int(sys.argv[3]); s=float(sys.argv[2])-float(sys.argv[1]); print(json.dumps({'label': sys.argv[4], 'chunks': n, 'seconds': round(s,3), 'chunks_per_s': round(n/s,1)}))" \
    "$start" "$end" "$(tail -1 "$work/cf.jsonl" | python3 -c 'import json,sys; print(json.load(sys.stdin)["chunks"])')" "$label"
}
echo "== store writes (import, no embedding)" >&2
{ chunks_per_s embedded "$work/emb"; chunks_per_s cluster "$work/qd" "${on_cluster[@]}"; } > "$OUT/cluster-import.jsonl"
cat "$OUT/cluster-import.jsonl" >&2
echo "== quality on the cluster (the imported KB: nothing re-embedded)" >&2
"${on_cluster[@]}" NOVA_DATA__DIR="$work/qd" "$KB_NOVA_BIN" eval --dataset "$DATASET" --kb cf --out "$OUT/cluster-eval-cluster.json" >&2

serve() { # data_dir port [env...]
  local data=$1 port=$2; shift 2
  "$@" env NOVA_DATA__DIR="$data" NOVA_SERVER__QUERY_CACHE=0 "$KB_NOVA_BIN" serve --addr "127.0.0.1:$port" >/dev/null 2>&1 &
  pids+=($!)
  for _ in $(seq 1 600); do curl -sf "http://127.0.0.1:$port/readyz" >/dev/null && return 0; sleep 0.2; done
  echo "server on $port never became ready" >&2; return 1
}
bench() { # label port mode levels
  "$KB_NOVA_BIN" bench http --url "http://127.0.0.1:$2" --kb cf --queries "$DATASET/queries.jsonl" \
    --concurrency "$4" --duration "$DURATION" --mode "$3" --label "$1" --out "$OUT/cluster-$1.json" >&2
}
echo "== search over HTTP, query cache off" >&2
serve "$work/emb" 18301
serve "$work/qd" 18302 "${on_cluster[@]}"
# A second replica with its own data folder: it learns the KB from the cluster.
serve "$work/qd2" 18303 "${on_cluster[@]}"
for mode in bm25 hybrid; do
  bench "embedded-$mode" 18301 "$mode" 1,8
  bench "cluster-$mode" 18302 "$mode" 1,8
done
echo "== 1 → 2 replicas on the cluster (hybrid, 8 clients in all)" >&2
bench one-replica 18302 hybrid 8
bench two-replicas-a 18302 hybrid 4 & a=$!
bench two-replicas-b 18303 hybrid 4 & b=$!
wait $a $b

python3 - "$OUT" <<'PY' | tee "$OUT/cluster.md"
import json, sys
out = sys.argv[1]
def level(name, c):
    for l in json.load(open(f"{out}/cluster-{name}.json"))["levels"]:
        if l["concurrency"] == c:
            return l
imp = [json.loads(l) for l in open(f"{out}/cluster-import.jsonl")]
def ndcg(which):
    report = json.load(open(f"{out}/cluster-eval-{which}.json"))
    return {m["mode"]: m["ndcg_at_10"] for m in report["modes"]}
e, q = ndcg("embedded"), ndcg("cluster")
print("| nDCG@10 | embedded | cluster | Δ |\n|---|---|---|---|")
for mode in e:
    print(f"| {mode} | {e[mode]:.4f} | {q[mode]:.4f} | {q[mode] - e[mode]:+.4f} |")
print()
print("| store writes (import of 2,259 chunks) | chunks/s |\n|---|---|")
for r in imp:
    print(f"| {r['label']} | {r['chunks_per_s']:.0f} |")
print("\n| search (cold) | embedded RPS | p50 ms | cluster RPS | p50 ms | cluster / embedded |\n|---|---|---|---|---|---|")
for mode in ("bm25", "hybrid"):
    for c in (1, 8):
        e, q = level(f"embedded-{mode}", c), level(f"cluster-{mode}", c)
        print(f"| {mode}, c={c} | {e['rps']:.1f} | {e['p50_ms']:.1f} | {q['rps']:.1f} | {q['p50_ms']:.1f} | {q['rps']/e['rps']:.2f}× |")
one = level("one-replica", 8)
a, b = level("two-replicas-a", 4), level("two-replicas-b", 4)
two = a["rps"] + b["rps"]
errors = one["errors"] + a["errors"] + b["errors"]
print(f"\n| replicas on the cluster (hybrid, 8 clients) | RPS | errors |\n|---|---|---|")
print(f"| 1 replica | {one['rps']:.1f} | {one['errors']} |")
print(f"| 2 replicas (4 clients each) | {two:.1f} | {a['errors'] + b['errors']} |")
print(f"\n2 replicas / 1: {two/one['rps']:.2f}×")
PY
