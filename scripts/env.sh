# Sourced by the project's scripts: one cargo target dir and one download cache outside the clone, so
# repeated runs on the same machine are incremental and a fresh clone still builds from scratch.
export KB_NOVA_CACHE="${KB_NOVA_CACHE:-$HOME/.cache/kb-nova}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$KB_NOVA_CACHE/target}"
export KB_NOVA_BIN="$CARGO_TARGET_DIR/debug/nova"
mkdir -p "$KB_NOVA_CACHE"
