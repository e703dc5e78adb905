#!/usr/bin/env bash
# Sourced by the benchmark scripts: builds the `nova` they measure and points KB_NOVA_BIN at it.
# PROFILE=release (the default) measures what users should run in production (opt-level 3 everywhere,
# thin LTO; a first release build takes about as long as the test build). PROFILE=dev measures the test
# build the quickstart makes (the model's crates and every dependency at opt-level 3, KB Nova's own
# server-side crates at 1) — say which when quoting a result.
PROFILE="${PROFILE:-release}"
case "$PROFILE" in
  release) cargo build --locked --release --bin nova; KB_NOVA_BIN="$CARGO_TARGET_DIR/release/nova" ;;
  dev) cargo build --locked --bin nova; KB_NOVA_BIN="$CARGO_TARGET_DIR/debug/nova" ;;
  *) echo "PROFILE must be release or dev, not $PROFILE" >&2; exit 2 ;;
esac
export KB_NOVA_BIN PROFILE
echo "benchmarking $KB_NOVA_BIN ($PROFILE build)" >&2
