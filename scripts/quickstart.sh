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
# The sample knowledge base (examples/kb: Markdown and HTML articles) and resolved tickets
# (examples/tickets, a help-desk CSV export) into the default KB under .nova/; re-running is a no-op.
"$KB_NOVA_BIN" ingest examples/kb
"$KB_NOVA_BIN" tickets import examples/tickets/resolved.csv
echo
"$KB_NOVA_BIN" search "pods keep restarting since we upgraded the cluster" -k 3
echo
"$KB_NOVA_BIN" troubleshoot "our pods keep crashing since the cluster upgrade"
echo
"$KB_NOVA_BIN" tickets suggest --subject "VPN unstable" "My VPN connection drops every few minutes when I work from home"
echo
echo "nova is at $KB_NOVA_BIN — try: $KB_NOVA_BIN --help"
echo "serve it over HTTP: $KB_NOVA_BIN serve   (API docs at http://127.0.0.1:8080/docs)"
