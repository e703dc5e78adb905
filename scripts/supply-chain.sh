#!/usr/bin/env bash
# Supply-chain checks (deny.toml): every dependency's licence is on the allow list, no wildcard versions,
# crates only from crates.io. Installs the pinned cargo-deny from crates.io when it is missing (~8 min
# once). The advisories check needs the RustSec database, fetched from GitHub, which these machines cannot
# reach: it runs when a copy is present under $CARGO_HOME/advisory-dbs (e.g. copied from a connected
# machine, or on one) and says SKIPPED otherwise.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
source scripts/cargo-tool.sh
ensure_cargo_tool cargo-deny deny 0.20.2
cargo deny --locked check licenses bans sources
DB_DIR="${CARGO_HOME:-$HOME/.cargo}/advisory-dbs"
if [ -n "$(ls -A "$DB_DIR" 2>/dev/null)" ]; then
  cargo deny --offline --locked check advisories
else
  echo "supply-chain: advisories SKIPPED — no RustSec database in $DB_DIR (it is fetched from GitHub; run \`cargo deny check advisories\` where GitHub is reachable)"
fi
