#!/usr/bin/env bash
# Embedding throughput and latency, KB Nova vs sentence-transformers and ONNX Runtime (the graph exported from
# the same model folder, 1 and 2 intra-op threads), on the same texts and machine, in one run (this host's
# speed swings with its neighbours, so only same-run ratios mean anything).
# Usage: MIN_SECONDS=3 bench/compare-embed.sh   (needs ../shared/datasets for the texts)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
source scripts/env.sh
MIN_SECONDS="${MIN_SECONDS:-3}"
PY="$(bash bench/setup-python.sh)"
bash scripts/fetch-models.sh >/dev/null
cargo build --locked --bin nova
mkdir -p bench/results
"$KB_NOVA_BIN" bench embed --min-seconds "$MIN_SECONDS" --out bench/results/embed-nova.json
"$PY" bench/embed_baseline.py --texts bench/results/embed-nova.texts.json --min-seconds "$MIN_SECONDS" \
  --out bench/results/embed-st.json
"$PY" bench/embed_baseline_ort.py --texts bench/results/embed-nova.texts.json --min-seconds "$MIN_SECONDS" \
  --out bench/results/embed-ort.json
"$PY" - <<'PY'
import json
nova = json.load(open("bench/results/embed-nova.json"))["cases"]
st = json.load(open("bench/results/embed-st.json"))["cases"]
ort = json.load(open("bench/results/embed-ort.json"))["cases"]
find = lambda cases, n: next(c for c in cases if c["set"] == n["set"] and c["threads"] == n["threads"])
print(f"\n{'set':<9} {'threads':>7} {'nova texts/s':>13} {'st texts/s':>11} {'ort texts/s':>11} {'nova/st':>7} {'nova/ort':>8} {'nova %peak':>10}")
for n in nova:
    s, o = find(st, n), find(ort, n)
    print(f"{n['set']:<9} {n['threads']:>7} {n['texts_per_s']:>13.1f} {s['texts_per_s']:>11.1f} {o['texts_per_s']:>11.1f} "
          f"{n['texts_per_s'] / s['texts_per_s']:>6.2f}x {n['texts_per_s'] / o['texts_per_s']:>7.2f}x {100 * n['peak_fraction']:>9.0f}%")
lat = lambda tool: json.load(open(f"bench/results/embed-{tool}.json")).get("latency", [])
nova_l, st_l, ort_l = lat("nova"), lat("st"), lat("ort")
same = lambda cases, n: next((c for c in cases if c["threads"] == n["threads"] and c["batch"] == n["batch"]), None)
print(f"\n{'threads':>7} {'batch':>5} {'nova p50 ms':>11} {'st p50':>7} {'ort p50':>7} {'nova p99':>8} {'st p99':>7} {'ort p99':>7} {'ceiling ms':>10} {'nova %peak':>10}")
for n in nova_l:
    s, o = same(st_l, n), same(ort_l, n)
    if s is None or o is None:
        continue
    print(f"{n['threads']:>7} {n['batch']:>5} {n['p50_ms']:>11.2f} {s['p50_ms']:>7.2f} {o['p50_ms']:>7.2f} "
          f"{n['p99_ms']:>8.2f} {s['p99_ms']:>7.2f} {o['p99_ms']:>7.2f} {n['ceiling_ms']:>10.2f} {100 * n['peak_fraction']:>9.0f}%")
PY
