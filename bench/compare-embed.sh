#!/usr/bin/env bash
# Embedding throughput, KB Nova vs sentence-transformers, on the same texts, model folder and machine, in
# one run (this host's speed swings with its neighbours, so only same-run ratios mean anything).
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
"$PY" - <<'PY'
import json
nova = json.load(open("bench/results/embed-nova.json"))["cases"]
st = json.load(open("bench/results/embed-st.json"))["cases"]
print(f"\n{'set':<9} {'threads':>7} {'nova texts/s':>13} {'st texts/s':>11} {'ratio':>6} {'nova %peak':>10}")
for n in nova:
    s = next(c for c in st if c["set"] == n["set"] and c["threads"] == n["threads"])
    print(f"{n['set']:<9} {n['threads']:>7} {n['texts_per_s']:>13.1f} {s['texts_per_s']:>11.1f} "
          f"{n['texts_per_s'] / s['texts_per_s']:>5.2f}x {100 * n['peak_fraction']:>9.0f}%")
nova_l = json.load(open("bench/results/embed-nova.json")).get("latency", [])
st_l = json.load(open("bench/results/embed-st.json")).get("latency", [])
print(f"\n{'threads':>7} {'batch':>5} {'nova p50 ms':>11} {'st p50 ms':>9} {'st/nova':>7} {'nova p99':>8} {'st p99':>7} {'ceiling ms':>10} {'nova %peak':>10}")
for n in nova_l:
    s = next((c for c in st_l if c["threads"] == n["threads"] and c["batch"] == n["batch"]), None)
    if s is None:
        continue
    print(f"{n['threads']:>7} {n['batch']:>5} {n['p50_ms']:>11.2f} {s['p50_ms']:>9.2f} {s['p50_ms'] / n['p50_ms']:>6.2f}x "
          f"{n['p99_ms']:>8.2f} {s['p99_ms']:>7.2f} {n['ceiling_ms']:>10.2f} {100 * n['peak_fraction']:>9.0f}%")
PY
