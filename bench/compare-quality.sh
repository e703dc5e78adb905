#!/usr/bin/env bash
# Retrieval quality, KB Nova beside its peers (bm25s, exact sentence-transformers, their RRF) on the same
# BEIR folder in one run. Usage: bench/compare-quality.sh [DATASET_DIR]  (default ../shared/datasets/cranfield)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
source scripts/env.sh
DATASET="${1:-../shared/datasets/cranfield}"
PY="$(bash bench/setup-python.sh)"
bash scripts/fetch-models.sh >/dev/null
cargo build --locked --bin nova
mkdir -p bench/results
name="$(basename "$DATASET")"
echo "== KB Nova"
"$KB_NOVA_BIN" eval --dataset "$DATASET" --out "bench/results/quality-nova-$name.json"
echo "== peers"
"$PY" bench/quality_baseline.py --dataset "$DATASET" --out "bench/results/quality-peers-$name.json"
