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
bash scripts/redis-test-deps.sh    # redis-server for limits shared by replicas (SKIPPED without)
bash scripts/deploy-test-deps.sh   # validators for the Helm chart and compose file (SKIPPED without)
cargo fmt --all --check
bash scripts/supply-chain.sh
cargo clippy --workspace --all-targets --locked -- -D warnings
cargo test --workspace --locked 2>&1 | tee "$KB_NOVA_CACHE/last-test.log"

# The engine's tests once more, on a real 3-node Qdrant cluster (the cluster store backend: 2 shards,
# 2 replicas), when the Qdrant server of ../shared/tools/qdrant is here.
if qdrant=$(bash scripts/qdrant-cluster.sh binary 2>&1); then
  qdir="$(mktemp -d)"
  trap 'bash scripts/qdrant-cluster.sh stop "$qdir" >/dev/null 2>&1; rm -rf "$qdir"' EXIT
  bash scripts/qdrant-cluster.sh start "$qdir" 3 >/dev/null
  NOVA_TEST_QDRANT_URLS="$(awk '{print $2}' "$qdir/nodes" | paste -sd,)" \
    cargo test -p nova-engine --locked --test seams --test kb 2>&1 | tee -a "$KB_NOVA_CACHE/last-test.log"
else
  echo "SKIPPED the engine tests on a Qdrant cluster: $qdrant"
fi
