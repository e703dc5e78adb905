#!/usr/bin/env bash
# `promtool`, which checks deploy/prometheus/alerts.yml and every PromQL expression of the Grafana dashboards
# (crates/nova-server/tests/monitoring.rs): Debian's `prometheus` package, without recommends. Idempotent and
# quiet when it is there; a failure here is reported, not fatal (those checks then say SKIPPED).
set -uo pipefail
command -v promtool > /dev/null && exit 0
SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"
echo "promtool-test-deps: installing prometheus (apt-get, for promtool)"
{ $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends prometheus > /dev/null; } \
  || echo "promtool-test-deps: could not install prometheus; the promtool checks will be SKIPPED" >&2
exit 0
