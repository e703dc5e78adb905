#!/usr/bin/env bash
# Crash harness (docs/reliability.md): kill -9 the real server at random moments while two clients ingest
# through its API (TRIALS, default 20), and `nova ingest` mid-run (CLI_TRIALS, default 10), with fixed
# seeds (SEED, default 7); after each restart every acknowledged write must be there, whole, at its
# version. Results: bench/results/crash.json; exit 1 if any acknowledged write was lost or torn.
#   bash bench/crash.sh
#   TRIALS=50 CLI_TRIALS=20 SEED=11 bash bench/crash.sh
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
source scripts/env.sh
cargo build --locked --bin nova
export NOVA_MODEL__PATH="$ROOT/models/all-MiniLM-L6-v2"
python3 bench/crash.py "$KB_NOVA_BIN" --trials "${TRIALS:-20}" --cli-trials "${CLI_TRIALS:-10}" \
  --seed "${SEED:-7}" --out bench/results/crash.json
