#!/usr/bin/env bash
# Fuzzes the HTTP API against its own OpenAPI document with schemathesis (PyPI, in its own venv under
# $KB_NOVA_CACHE): generated valid and invalid requests on every route, checked for 5xx, responses that do
# not match the documented schema or status codes, and contract violations. The real server, on a
# throw-away data folder holding the example KB, on 127.0.0.1 only, with an administrator's key.
#   bash bench/api-fuzz.sh                 # MAX_TIME=120 s budget
#   MAX_TIME=600 bash bench/api-fuzz.sh
#   MAX_EXAMPLES=400 MAX_TIME=900 bash bench/api-fuzz.sh   # more cases per operation (≥ 10,000 in all)
#   INCLUDE='feedback$' MAX_EXAMPLES=2000 bash bench/api-fuzz.sh   # only the operations whose path matches
# Results: bench/results/api-fuzz.txt (schemathesis's summary) and bench/results/api-fuzz-junit.xml.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
source scripts/env.sh
MAX_TIME="${MAX_TIME:-120}"
OUT=bench/results
mkdir -p "$OUT"
VENV="$KB_NOVA_CACHE/fuzz-venv"
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
"$VENV/bin/python" -c "import schemathesis" 2> /dev/null \
  || "$VENV/bin/pip" install --quiet --disable-pip-version-check "schemathesis==4.32.5" >&2
cargo build --locked --bin nova
DATA="$(mktemp -d)"
export NOVA_DATA__DIR="$DATA"
"$KB_NOVA_BIN" ingest examples/kb --kb fuzz > /dev/null
KEY="$("$KB_NOVA_BIN" keys create --name fuzz-admin --role admin 2> /dev/null | tail -1)"
PORT=18295
"$KB_NOVA_BIN" serve --addr "127.0.0.1:$PORT" > "$OUT/api-fuzz-server.log" 2>&1 &
SERVER=$!
trap 'kill -TERM "$SERVER" 2> /dev/null || true; wait "$SERVER" 2> /dev/null || true; rm -rf "$DATA"' EXIT
for _ in $(seq 1 600); do curl -sf "http://127.0.0.1:$PORT/readyz" > /dev/null && break; sleep 0.2; done
# The key routes are left out: a generated DELETE /v1/keys/{name} would revoke the fuzzer's own key and
# turn every later request into a 401.
set +e
"$VENV/bin/schemathesis" --config-file bench/schemathesis.toml run "http://127.0.0.1:$PORT/openapi.json" \
  -H "Authorization: Bearer $KEY" --max-time "$MAX_TIME" --workers 1 \
  ${MAX_EXAMPLES:+--max-examples "$MAX_EXAMPLES"} ${INCLUDE:+--include-path-regex "$INCLUDE"} \
  --exclude-path-regex '^/v1/keys' --report junit --report-junit-path "$OUT/api-fuzz-junit.xml" \
  2>&1 | tee "$OUT/api-fuzz.txt" | tail -40
status=${PIPESTATUS[0]}
set -e
# 503 (`not_ready`, `kb_busy`) is documented; a 500 is a bug.
echo "server errors (500): $(grep -c 'Status code: 500' "$OUT/api-fuzz-server.log" || true)"
exit "$status"
