#!/usr/bin/env bash
# One command from a fresh clone to a working KB Nova: fetches the model, builds `nova`, and runs the main
# job on the embedded defaults.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
source scripts/env.sh

bash scripts/install-deps.sh
bash scripts/fetch-models.sh
echo "build: cargo build (first build takes several minutes)"
cargo build --locked --bin nova
echo
"$KB_NOVA_BIN" similar \
  "Pods stuck in CrashLoopBackOff after the upgrade" \
  "Kubernetes containers keep restarting since we updated the cluster" \
  "VPN disconnects every few minutes" \
  "Remote access connection drops repeatedly" \
  "Printer is out of toner"
echo
echo "nova is at $KB_NOVA_BIN — try: $KB_NOVA_BIN --help"
