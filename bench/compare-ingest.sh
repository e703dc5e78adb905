#!/usr/bin/env bash
# Ingest speed of KB Nova and the seed stack (FastAPI + sentence-transformers + Chroma, bench/seed_stack)
# on one BEIR corpus in one run: each starts from an empty store, same model folder, 127.0.0.1 only.
# KB Nova: `nova ingest corpus.jsonl` in fp32 and in int8 (model.precision), every chunk embedded and
# BM25-indexed. Seed: its in-process `app.py index` (title + text per record, sentence-transformers at
# batch 32 — which truncates each record at the model's 256 tokens; KB Nova embeds every word, in
# 150-word chunks with a 30-word overlap and the title on each, so it embeds more tokens per document).
# Results: bench/results/ingest-*.json and a table.
#   bash bench/compare-ingest.sh [BEIR_DIR]      # default ../shared/datasets/scifact
#   PROFILE=dev (the test build instead of release)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
source scripts/env.sh
DATASET="$(cd "${1:-../shared/datasets/scifact}" && pwd)"
NAME="$(basename "$DATASET")"
PY="$(bash bench/setup-python.sh)"
OUT=bench/results
mkdir -p "$OUT"
source scripts/bench-build.sh
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
DOCS="$(grep -c . "$DATASET/corpus.jsonl")"

timed() { # label command...
  local start end
  start="$(date +%s.%N)"
  "${@:2}" > "$WORK/$1.log" 2>&1
  end="$(date +%s.%N)"
  python3 -c 'import sys; print(f"{float(sys.argv[2]) - float(sys.argv[1]):.1f}")' "$start" "$end"
}
for precision in fp32 int8; do
  echo "nova ingest ($precision) of $DOCS documents…" >&2
  secs="$(NOVA_DATA__DIR="$WORK/nova-$precision" NOVA_MODEL__PRECISION="$precision" \
    timed "nova-$precision" "$KB_NOVA_BIN" ingest "$DATASET/corpus.jsonl" --kb "$NAME")"
  chunks="$(grep -o '[0-9]* chunks written' "$WORK/nova-$precision.log" | grep -o '^[0-9]*')"
  printf '{"label": "nova-%s", "docs": %s, "chunks": %s, "seconds": %s}\n' "$precision" "$DOCS" "$chunks" "$secs" \
    > "$OUT/ingest-nova-$precision.json"
done
echo "seed stack index of $DOCS documents…" >&2
secs="$(cd bench/seed_stack && SEED_DB="$WORK/seed" SEED_MODEL="$ROOT/models/all-MiniLM-L6-v2" \
  timed seed "$PY" app.py index --corpus "$DATASET/corpus.jsonl" --kb "$NAME")"
printf '{"label": "seed", "docs": %s, "chunks": %s, "seconds": %s}\n' "$DOCS" "$DOCS" "$secs" > "$OUT/ingest-seed.json"

python3 - "$OUT" "$NAME" "$PROFILE" <<'PY'
import json, sys
out, name, profile = sys.argv[1:]
runs = [json.load(open(f"{out}/ingest-{l}.json")) for l in ("nova-fp32", "nova-int8", "seed")]
seed = runs[-1]["docs"] / runs[-1]["seconds"]
print(f"{name} ingest from an empty store ({profile} build of nova); texts embedded = chunks (seed: one per record)")
print(f"{'run':<10} {'docs':>6} {'texts':>6} {'seconds':>8} {'docs/s':>7} {'texts/s':>8} {'vs seed':>8}")
for r in runs:
    dps = r["docs"] / r["seconds"]
    print(f"{r['label']:<10} {r['docs']:>6} {r['chunks']:>6} {r['seconds']:>8.1f} {dps:>7.1f} "
          f"{r['chunks'] / r['seconds']:>8.1f} {dps / seed:>7.2f}x")
PY
