#!/usr/bin/env bash
# Validates docs/openapi.json (the committed copy of GET /openapi.json; a test keeps them equal) against
# the OpenAPI 3.1 schema with openapi-spec-validator.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PY="$(bash bench/setup-python.sh)"
"$PY" -m pip install --quiet --disable-pip-version-check openapi-spec-validator >&2
"$PY" -c "import json; from openapi_spec_validator import validate; validate(json.load(open('docs/openapi.json'))); print('docs/openapi.json: valid OpenAPI', json.load(open('docs/openapi.json'))['openapi'])"
