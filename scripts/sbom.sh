#!/usr/bin/env bash
# Software bill of materials: a CycloneDX 1.5 JSON document for the `nova` binary (every crate compiled
# into it, with version, licence, package URL and the Cargo.lock checksum), written to
# dist/sbom/nova.cdx.json. Installs the pinned cargo-cyclonedx from crates.io when missing (~6 min once).
# Reproducible: the timestamp is the last commit's (SOURCE_DATE_EPOCH).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
source scripts/cargo-tool.sh
ensure_cargo_tool cargo-cyclonedx cyclonedx 0.5.9
export SOURCE_DATE_EPOCH="${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}"
OUT="$ROOT/dist/sbom"
mkdir -p "$OUT"
cargo cyclonedx --manifest-path crates/nova-cli/Cargo.toml --format json --spec-version 1.5 \
  --describe binaries --no-build-deps -qq
# cargo-cyclonedx writes beside the manifest: move it to dist/.
mv crates/nova-cli/*_bin.cdx.json "$OUT/nova.cdx.json" 2>/dev/null || mv crates/nova-cli/*.cdx.json "$OUT/nova.cdx.json"
python3 - "$OUT/nova.cdx.json" <<'PY'
import json, sys
bom = json.load(open(sys.argv[1]))
comps = bom.get("components", [])
unlicensed = [c["name"] for c in comps if not c.get("licenses")]
print(f"sbom: {sys.argv[1]}: {len(comps)} components, CycloneDX {bom['specVersion']}"
      + (f"; without a licence field: {', '.join(sorted(set(unlicensed)))}" if unlicensed else ""))
PY
