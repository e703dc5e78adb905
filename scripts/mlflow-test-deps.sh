#!/usr/bin/env bash
# The MLflow tracking server the experiment-tracking test (crates/nova-cli/tests/tracking.rs) sends runs to:
# `mlflow` from PyPI, pinned, in its own virtualenv at $KB_NOVA_CACHE/mlflow-venv (outside the clone; about
# 1.5 min and 0.9 GB the first time). Idempotent and quiet when it is there. A failure here is reported, not
# fatal: the test then says SKIPPED and why.
set -uo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "$ROOT/scripts/env.sh"
VERSION=3.17.2
VENV="$KB_NOVA_CACHE/mlflow-venv"
if [ -x "$VENV/bin/mlflow" ] && "$VENV/bin/python" -c "import mlflow, sys; sys.exit(mlflow.__version__ != '$VERSION')" 2> /dev/null; then
  exit 0
fi
echo "mlflow-test-deps: installing mlflow $VERSION into $VENV (pip)"
rm -rf "$VENV"
if ! { python3 -m venv "$VENV" && "$VENV/bin/pip" install -q --disable-pip-version-check "mlflow==$VERSION"; }; then
  rm -rf "$VENV"
  echo "mlflow-test-deps: could not install mlflow; the MLflow test will be SKIPPED" >&2
fi
exit 0
