#!/usr/bin/env bash
# The whole test suite, as CI runs it: model fetch, formatting, supply-chain policy (deny.toml), lints, then
# every test in the workspace.
# Tests that need ../shared (golden references, datasets) say SKIPPED when it is absent.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
source scripts/env.sh

bash scripts/install-deps.sh
bash scripts/fetch-models.sh
bash scripts/ui-test-deps.sh   # Chromium + playwright-core/axe-core for the web console test (SKIPPED without)
bash scripts/mlflow-test-deps.sh   # an MLflow server for the experiment-tracking test (SKIPPED without)
bash scripts/promtool-test-deps.sh # promtool for the alert rules and dashboard queries (SKIPPED without)
cargo fmt --all --check
bash scripts/supply-chain.sh
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo test --workspace --locked 2>&1 | tee "$KB_NOVA_CACHE/last-test.log"
