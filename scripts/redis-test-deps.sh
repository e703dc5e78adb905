#!/usr/bin/env bash
# `redis-server` for the shared rate-limit tests (crates/nova-auth/tests/redis_limits.rs, two `nova serve`
# replicas in crates/nova-cli/tests/replicas.rs): Debian's package, without recommends. The tests start their
# own server on a free loopback port. Idempotent and quiet when it is there; a failure here is reported,
# not fatal (those tests then say SKIPPED).
set -uo pipefail
command -v redis-server > /dev/null && exit 0
SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"
echo "redis-test-deps: installing redis-server (apt-get)"
{ $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends redis-server > /dev/null; } \
  || echo "redis-test-deps: could not install redis-server; the shared-limit tests will be SKIPPED" >&2
exit 0
