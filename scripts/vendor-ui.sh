#!/usr/bin/env bash
# Re-creates the web console's one third-party file, crates/nova-server/ui/vendor/preact-htm.js: Preact with
# its hooks and htm (tagged templates instead of JSX, so the console needs no build step), as the `htm`
# package publishes them in one ES module. Downloaded from the npm registry, checked against the registry's
# sha512, and committed; run this only to move to another version (then update VERSION and INTEGRITY).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VERSION=3.1.1
INTEGRITY="sha512-983Vyg8NwUE7JkZ6NmOqpCZ+sh1bKv2iYTlUkzlWmA5JD2acKoxd4KVxbMmxX/85mtfdnDmTFoNKcg5DGAvxNQ=="
OUT="$ROOT/crates/nova-server/ui/vendor/preact-htm.js"
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT
cd "$TMP"
npm pack --silent "htm@$VERSION" > /dev/null
got="sha512-$(openssl dgst -sha512 -binary "htm-$VERSION.tgz" | base64 -w0)"
[ "$got" = "$INTEGRITY" ] || { echo "vendor-ui: htm-$VERSION.tgz has $got, expected $INTEGRITY" >&2; exit 1; }
tar xzf "htm-$VERSION.tgz"
{
  echo "// htm $VERSION (Apache-2.0, https://github.com/developit/htm) with Preact (MIT, https://preactjs.com):"
  echo "// package/preact/standalone.module.js of htm-$VERSION.tgz from registry.npmjs.org ($INTEGRITY)."
  echo "// Written by scripts/vendor-ui.sh; do not edit."
  cat package/preact/standalone.module.js
  echo
} > "$OUT"
echo "vendor-ui: wrote $OUT"
