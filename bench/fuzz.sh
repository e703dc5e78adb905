#!/usr/bin/env bash
# Long fuzz run of the readers (crates/nova-ingest/tests/fuzz.rs): CASES per target (default 1,000,000)
# in release mode, where the suite runs 64. Any panic, hang (> 10 s for one input) or malformed output
# fails with the shrunk input printed. Results: bench/results/fuzz.txt.
#   bash bench/fuzz.sh                 # ~1M cases per target: hours on 2 cores
#   CASES=100000 bash bench/fuzz.sh
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
source scripts/env.sh
mkdir -p bench/results
CASES="${CASES:-1000000}"
started=$(date +%s)
FUZZ_CASES="$CASES" cargo test --release --locked -p nova-ingest --test fuzz -- --test-threads 2 2>&1 \
  | tee bench/results/fuzz.txt | grep -E "^test |test result"
echo "fuzz: $CASES cases per target in $(( $(date +%s) - started )) s" | tee -a bench/results/fuzz.txt
