#!/usr/bin/env bash
# What the web console's end-to-end test (crates/nova-cli/tests/ui.rs) drives: Debian's `chromium` (apt) and,
# from npm, playwright-core (to drive it) and axe-core (accessibility checks), installed from the lock file
# in crates/nova-cli/tests/ui into $KB_NOVA_CACHE/ui-test, outside the clone. Idempotent and quiet when
# everything is there. A failure here is reported, not fatal: the test then says SKIPPED and why.
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/scripts/env.sh"
SRC="$ROOT/crates/nova-cli/tests/ui"
DEST="$KB_NOVA_CACHE/ui-test"
SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"

apt_install() {
  echo "ui-test-deps: installing $* (apt-get)"
  $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "$@" > /dev/null
}

if ! command -v chromium > /dev/null; then
  apt_install chromium || echo "ui-test-deps: could not install chromium; the console test will be SKIPPED" >&2
fi
if ! command -v npm > /dev/null; then
  apt_install nodejs npm || { echo "ui-test-deps: could not install node/npm; the console test will be SKIPPED" >&2; exit 0; }
fi
mkdir -p "$DEST"
# Reinstall only when the lock file changed.
if ! cmp -s "$SRC/package-lock.json" "$DEST/package-lock.json" || [ ! -d "$DEST/node_modules/playwright-core" ]; then
  cp "$SRC/package.json" "$SRC/package-lock.json" "$DEST/"
  echo "ui-test-deps: npm ci (playwright-core, axe-core) in $DEST"
  (cd "$DEST" && npm ci --silent --no-audit --no-fund) \
    || { rm -f "$DEST/package-lock.json"; echo "ui-test-deps: npm ci failed; the console test will be SKIPPED" >&2; }
fi
exit 0
