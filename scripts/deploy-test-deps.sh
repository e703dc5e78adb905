#!/usr/bin/env bash
# The validators of deploy/ (crates/nova-cli/tests/deploy.rs): kubernetes-validate (the Kubernetes 1.37 OpenAPI
# schemas, strict) for the Helm chart as deploy/helm/render.py renders it, check-jsonschema (the compose-spec
# schema) for deploy/compose.yaml, in a venv under $KB_NOVA_CACHE. Idempotent; a failure here is reported, not
# fatal (the test then says SKIPPED).
set -uo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
venv="$KB_NOVA_CACHE/deploy-venv"
want="kubernetes-validate==1.37.0 check-jsonschema==0.39.0 pyyaml==6.0.3"
[ -f "$venv/.installed" ] && [ "$(cat "$venv/.installed")" = "$want" ] && exit 0
echo "deploy-test-deps: installing $want"
{ python3 -m venv "$venv" && "$venv/bin/pip" install -q $want && echo "$want" > "$venv/.installed"; } \
  || echo "deploy-test-deps: could not install the validators; the deployment checks will be SKIPPED" >&2
exit 0
