#!/usr/bin/env bash
# Embedding throughput and latency, KB Nova vs sentence-transformers and ONNX Runtime (the graph exported from
# the same model folder, 1 and 2 intra-op threads), on the same texts and machine, in one run (this host's
# speed swings with its neighbours, so only same-run ratios mean anything).
# KB Nova runs twice: fp32 (the default, equal to sentence-transformers) and int8 (`model.precision`), the
# latter with the cosine of its vectors to fp32's on the same texts.
# Usage: MIN_SECONDS=3 bench/compare-embed.sh   (needs ../shared/datasets for the texts; INT8=0 skips int8;
# PROFILE=dev measures the test build instead of the release one)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
source scripts/env.sh
MIN_SECONDS="${MIN_SECONDS:-3}"
PY="$(bash bench/setup-python.sh)"
bash scripts/fetch-models.sh >/dev/null
source scripts/bench-build.sh
mkdir -p bench/results
"$KB_NOVA_BIN" bench embed --min-seconds "$MIN_SECONDS" --out bench/results/embed-nova.json
if [ "${INT8:-1}" = 1 ]; then
  NOVA_MODEL__PRECISION=int8 "$KB_NOVA_BIN" bench embed --min-seconds "$MIN_SECONDS" \
    --out bench/results/embed-nova-int8.json
fi
"$PY" bench/embed_baseline.py --texts bench/results/embed-nova.texts.json --min-seconds "$MIN_SECONDS" \
  --out bench/results/embed-st.json
"$PY" bench/embed_baseline_ort.py --texts bench/results/embed-nova.texts.json --min-seconds "$MIN_SECONDS" \
  --out bench/results/embed-ort.json
"$PY" - <<'PY'
import json, os
nova = json.load(open("bench/results/embed-nova.json"))["cases"]
int8_path = "bench/results/embed-nova-int8.json"
int8 = json.load(open(int8_path)) if os.path.exists(int8_path) else None
st = json.load(open("bench/results/embed-st.json"))["cases"]
ort = json.load(open("bench/results/embed-ort.json"))["cases"]
find = lambda cases, n: next(c for c in cases if c["set"] == n["set"] and c["threads"] == n["threads"])
print(f"\n{'set':<9} {'threads':>7} {'nova texts/s':>13} {'st texts/s':>11} {'ort texts/s':>11} {'nova/st':>7} {'nova/ort':>8} {'nova %peak':>10}")
for n in nova:
    s, o = find(st, n), find(ort, n)
    print(f"{n['set']:<9} {n['threads']:>7} {n['texts_per_s']:>13.1f} {s['texts_per_s']:>11.1f} {o['texts_per_s']:>11.1f} "
          f"{n['texts_per_s'] / s['texts_per_s']:>6.2f}x {n['texts_per_s'] / o['texts_per_s']:>7.2f}x {100 * n['peak_fraction']:>9.0f}%")
if int8:
    print(f"\nint8 ({int8['int8_kernel']}) against fp32, same run:")
    for f in int8["fidelity"]:
        print(f"  {f['set']:<9} cosine to fp32: mean {f['mean_cosine']:.5f}, min {f['min_cosine']:.5f}")
    print(f"{'set':<9} {'threads':>7} {'int8 texts/s':>12} {'fp32 texts/s':>12} {'int8/fp32':>9} {'int8/st':>7} {'int8/ort':>8}")
    for n in int8["cases"]:
        f, s, o = find(nova, n), find(st, n), find(ort, n)
        print(f"{n['set']:<9} {n['threads']:>7} {n['texts_per_s']:>12.1f} {f['texts_per_s']:>12.1f} "
              f"{n['texts_per_s'] / f['texts_per_s']:>8.2f}x {n['texts_per_s'] / s['texts_per_s']:>6.2f}x {n['texts_per_s'] / o['texts_per_s']:>7.2f}x")
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
if int8:
    print(f"\n{'threads':>7} {'batch':>5} {'int8 p50 ms':>11} {'fp32 p50':>8} {'ort p50':>7} {'int8 p99':>8}")
    for n in int8.get("latency", []):
        f, o = same(nova_l, n), same(ort_l, n)
        if f is None or o is None:
            continue
        print(f"{n['threads']:>7} {n['batch']:>5} {n['p50_ms']:>11.2f} {f['p50_ms']:>8.2f} {o['p50_ms']:>7.2f} {n['p99_ms']:>8.2f}")
PY
