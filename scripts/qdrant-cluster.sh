#!/usr/bin/env bash
# A Qdrant cluster on 127.0.0.1 for the cluster-backend tests and benchmarks, from the Qdrant 1.18.3
# server in ../shared/tools/qdrant (built from Qdrant's public source; its SOURCE.md says how).
#   scripts/qdrant-cluster.sh start DIR [N=3]   start N nodes; prints "http_url grpc_url pid" per node
#                                              (also in DIR/nodes) and exits 0 once all see each other
#   scripts/qdrant-cluster.sh stop DIR          stop them (SIGTERM, then SIGKILL after 30 s)
#   scripts/qdrant-cluster.sh binary            prints the qdrant binary's path, or exits 1 without one
# QDRANT_BIN overrides the binary; KB_NOVA_SHARED the shared folder (default ../shared).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
tools="${KB_NOVA_SHARED:-$ROOT/../shared}/tools/qdrant"
bin="${QDRANT_BIN:-$tools/qdrant}"

binary() {
  [ -x "$bin" ] || { echo "no Qdrant server binary at $bin (set QDRANT_BIN)" >&2; return 1; }
  echo "$bin"
}

case "${1:-}" in
  binary) binary ;;
  start)
    dir="${2:?usage: qdrant-cluster.sh start DIR [N]}"
    binary >/dev/null
    QDRANT_BIN="$bin" "$tools/start-cluster.sh" "$dir" "${3:-3}" >/dev/null
    : >"$dir/nodes"
    i=0
    while read -r url pid; do
      i=$((i + 1))
      grpc=$(sed -n 's/.*grpc=\([0-9]*\).*/\1/p' "$dir/node$i/ports")
      echo "$url http://127.0.0.1:$grpc $pid" | tee -a "$dir/nodes"
    done <"$dir/cluster.pids"
    ;;
  stop)
    dir="${2:?usage: qdrant-cluster.sh stop DIR}"
    [ -f "$dir/cluster.pids" ] || exit 0
    "$tools/stop-cluster.sh" "$dir"
    ;;
  *) sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'; exit 2 ;;
esac
