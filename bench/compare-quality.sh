#!/usr/bin/env bash
# Retrieval quality on every evaluation set, in one run:
#  1. KB Nova (`nova eval`, one hybrid run per fusion in $FUSIONS over the same candidates) beside its
#     peers (bm25s, exact sentence-transformers, their RRF) on the same documents;
#  2. the BM25 comparison, query by query (bench/bm25_compare.py);
#  3. the leave-one-set-out choice of fusion (bench/loso.py): tuned on all sets but one, scored on it.
# Sets: SciFact and Cranfield (shared), Debian sysadmin packages (built from Debian's index,
# bench/datasets/debian-sysadmin), the troubleshooting docs with the shared questions and with our
# held-out paraphrases (bench/datasets/troubleshooting-paraphrased) and with fresh questions on other pages
# (bench/datasets/troubleshooting-fresh), and SciFact's claims in lay words (bench/datasets/scifact-paraphrased,
# on SciFact's index). A set whose files are missing is SKIPPED. Tables go to bench/results/quality-*.md.
# Usage: bench/compare-quality.sh [SET ...]   (default: all seven; KB_NOVA_SHARED=../shared)
#        PRF=1 bench/compare-quality.sh   the same sweep with pseudo-relevance feedback on (KB Nova only,
#                                         reusing the KBs; tables quality-loso-prf.md)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
source scripts/env.sh
SHARED="${KB_NOVA_SHARED:-$ROOT/../shared}"
# Fixed fusions, adaptive ones (weight from BM25's best/mean) and adaptive ones with agreement (+BOOST
# when dense does not rank BM25's best document in its top DEPTH), some of them backed (and BM25 ranks
# dense's best in its top BACKING).
AGREEMENT=""
for alpha in 0.5 0.55 0.6; do for slope in 0 0.1; do for boost in 0.2 0.3 0.4; do for depth in 10 20; do
  AGREEMENT+="${AGREEMENT:+,}adaptive:$alpha:$slope:4:$boost:$depth"
done; done; done; done
# Backed agreement: the boost only when BM25 also ranks dense's best document in its top 20.
for alpha in 0.55 0.6; do for slope in 0 0.1; do for boost in 0.2 0.3; do for depth in 10 20; do
  AGREEMENT+=",adaptive:$alpha:$slope:4:$boost:$depth:20"
done; done; done; done
FUSIONS="${FUSIONS:-rrf,convex:0.3,convex:0.4,convex:0.5,convex:0.6,convex:0.7,convex:0.8,zscore:0.3,zscore:0.4,zscore:0.5,zscore:0.6,zscore:0.7,zscore:0.8,dbsf:0.3,dbsf:0.4,dbsf:0.5,dbsf:0.6,dbsf:0.7,dbsf:0.8,adaptive:0.5:0.1:4,adaptive:0.55:0.06:4,adaptive:0.55:0.1:4,adaptive:0.55:0.1:4.5,adaptive:0.55:0.2:4,adaptive:0.6:0.1:4,adaptive:0.6:0.2:3,adaptive:0.65:0.3:3,$AGREEMENT}"
SETS=("$@")
[ ${#SETS[@]} -gt 0 ] || SETS=(scifact cranfield debian-sysadmin troubleshooting troubleshooting-paraphrased scifact-paraphrased troubleshooting-fresh)
PY="$(bash bench/setup-python.sh)"
bash scripts/fetch-models.sh >/dev/null
cargo build --locked --bin nova
OUT=bench/results
mkdir -p "$OUT/datasets"
export NOVA_DATA__DIR="${NOVA_DATA__DIR:-$OUT/quality-data}"
reports=()
PRF="${PRF:-0}"
tag=""
prf_flag=()
if [ "$PRF" = 1 ]; then tag="-prf"; prf_flag=(--prf); fi
parity="$OUT/quality-bm25.md"
[ "$PRF" = 1 ] || printf '| set | KB Nova BM25 | bm25s | Δ | Δ 95 %% interval | queries better / worse | peer RRF | peer exact MiniLM |\n|---|---|---|---|---|---|---|---|\n' >"$parity"

# One set: KB Nova's sweep on the form users ingest, the peers and the BM25 comparison on a BEIR folder.
# KB=OTHER reuses set OTHER's index (the same corpus asked other questions).
run_set() {
  local name="$1" beir="$2"
  shift 2
  echo "== $name"
  "$KB_NOVA_BIN" eval "$@" --kb "quality-${KB:-$name}" --fusion "$FUSIONS" "${prf_flag[@]}" \
    --out "$OUT/quality-nova-$name$tag.json" --runs "$OUT/quality-runs-$name$tag.txt"
  reports+=("$OUT/quality-nova-$name$tag.json")
  [ "$PRF" = 1 ] && return 0
  local bm25_runs="$OUT/quality-runs-$name.txt"
  if [ "$1" != --dataset ]; then
    # Ingested as Markdown above; BM25 is compared on the same files as plain text, as bm25s sees them.
    bm25_runs="$OUT/quality-runs-$name-plain.txt"
    "$KB_NOVA_BIN" eval --dataset "$beir" --kb "quality-${KB:-$name}-beir" --modes bm25 \
      --runs "$bm25_runs" --out "$OUT/quality-bm25-$name.json" >/dev/null
  fi
  "$PY" bench/quality_baseline.py --dataset "$beir" --out "$OUT/quality-peers-$name.json" 2>/dev/null
  "$PY" bench/bm25_compare.py --dataset "$beir" --runs "$bm25_runs" \
    --out "$OUT/quality-bm25cmp-$name.json" | tee "$OUT/quality-bm25cmp-$name.txt"
  "$PY" - "$name" "$OUT" >>"$parity" <<'PY'
import json, sys
name, out = sys.argv[1], sys.argv[2]
cmp = json.load(open(f"{out}/quality-bm25cmp-{name}.json"))
peers = json.load(open(f"{out}/quality-peers-{name}.json"))
print(f"| {name} | {cmp['nova']:.4f} | {cmp['bm25s']:.4f} | {cmp['nova'] - cmp['bm25s']:+.4f} | "
      f"{cmp['ci'][0]:+.4f} … {cmp['ci'][1]:+.4f} | {cmp['better']} / {cmp['worse']} | "
      f"{peers['rrf']['ndcg_at_10']:.4f} | {peers['exact-minilm']['ndcg_at_10']:.4f} |")
PY
}

for set in "${SETS[@]}"; do
  case "$set" in
    scifact | cranfield)
      dir="$SHARED/datasets/$set"
      if [ -f "$dir/corpus.jsonl" ]; then run_set "$set" "$dir" --dataset "$dir"; else echo "SKIPPED $set: $dir not found"; fi ;;
    debian-sysadmin)
      dir="$OUT/datasets/debian-sysadmin"
      if "$PY" bench/datasets/build_debian.py "$dir"; then run_set "$set" "$dir" --dataset "$dir"
      else echo "SKIPPED $set: Debian's package index could not be read"; fi ;;
    troubleshooting | troubleshooting-paraphrased | troubleshooting-fresh)
      docs="$SHARED/datasets/troubleshooting/docs"
      queries="$SHARED/datasets/troubleshooting/queries.jsonl"
      [ "$set" = troubleshooting ] || queries="bench/datasets/$set/queries.jsonl"
      if [ -d "$docs" ]; then
        "$PY" bench/datasets/folder_to_beir.py "$docs" "$queries" "$OUT/datasets/$set" >/dev/null
        # The three question sets ask the same pages: one index (and one plain-text index) serves all.
        KB=troubleshooting run_set "$set" "$OUT/datasets/$set" --kb-queries "$queries" --docs "$docs"
      else echo "SKIPPED $set: $docs not found"; fi ;;
    scifact-paraphrased)
      dir="$SHARED/datasets/scifact"
      if [ -f "$dir/corpus.jsonl" ]; then
        "$PY" bench/datasets/paraphrased_beir.py "$dir" "bench/datasets/$set/queries.jsonl" "$OUT/datasets/$set" >/dev/null
        KB=scifact run_set "$set" "$OUT/datasets/$set" --dataset "$OUT/datasets/$set"
      else echo "SKIPPED $set: $dir not found"; fi ;;
    *) echo "unknown set $set (scifact, cranfield, debian-sysadmin, troubleshooting, troubleshooting-paraphrased, scifact-paraphrased, troubleshooting-fresh)" >&2; exit 2 ;;
  esac
done

if [ "$PRF" != 1 ]; then
  echo "== BM25 beside bm25s (nDCG@10)"
  cat "$parity"
fi
if [ ${#reports[@]} -ge 2 ]; then
  echo "== leave-one-set-out fusion$tag"
  "$PY" bench/loso.py "${reports[@]}" | tee "$OUT/quality-loso$tag.md"
fi
