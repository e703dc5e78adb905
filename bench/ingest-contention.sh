#!/usr/bin/env bash
# Search while a large ingest runs: cold hybrid search latency (query cache off, c=1) on the SciFact KB
# that `nova eval` builds, first with the server idle, then while one 16 MiB document is ingested into
# another KB — same server, same queries, same run. The issue's bar: p95 during ingest within 2× of idle.
# 127.0.0.1 only. Results: bench/results/ingest-contention-{idle,busy}.json and a table.
#   bash bench/ingest-contention.sh [BEIR_DIR]     # default ../shared/datasets/scifact
#   DURATION=60 DOC_MB=16 bash bench/ingest-contention.sh
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
source scripts/env.sh
DATASET="$(cd "${1:-../shared/datasets/scifact}" && pwd)"
NAME="$(basename "$DATASET")"
DURATION="${DURATION:-60}"
DOC_MB="${DOC_MB:-16}"
OUT=bench/results
mkdir -p "$OUT"
cargo build --locked --bin nova
python3 bench/judged_queries.py "$DATASET" "$OUT/queries-$NAME.jsonl"
"$KB_NOVA_BIN" eval --dataset "$DATASET" --modes bm25 > /dev/null   # index once (idempotent)
DOC="$KB_NOVA_CACHE/ingest-load-${DOC_MB}mb.md"
# Prose-like paragraphs from the corpus's own vocabulary, so the chunker and the model do real work.
python3 - "$DATASET/corpus.jsonl" "$DOC" "$DOC_MB" <<'PY'
import json, random, sys
corpus, out, mb = sys.argv[1], sys.argv[2], int(sys.argv[3])
words = []
for line in open(corpus):
    words.extend(json.loads(line).get("text", "").split()[:60])
    if len(words) > 200_000:
        break
rng = random.Random(7)
size, parts = 0, []
while size < mb * 1024 * 1024:
    p = " ".join(rng.choice(words) for _ in range(rng.randint(40, 120)))
    parts.append(p)
    size += len(p) + 2
open(out, "w").write("\n\n".join(parts))
PY
KEY_NAME="bench-ingest-$$"
KEY="$("$KB_NOVA_BIN" keys create --name "$KEY_NAME" --role admin 2>/dev/null | tail -1)"
PORT=18281
NOVA_SERVER__QUERY_CACHE=0 NOVA_SERVER__BODY_LIMIT_MB=$((DOC_MB * 2)) NOVA_SERVER__REQUEST_TIMEOUT_SECS=7200 \
  "$KB_NOVA_BIN" serve --addr "127.0.0.1:$PORT" > /dev/null 2>&1 &
SERVER=$!
cleanup() {
  # The load KB goes with the run (deleting it also stops its ingest task at the next batch).
  curl -s --max-time 60 -X DELETE -H "Authorization: Bearer $KEY" \
    "http://127.0.0.1:$PORT/v1/kbs/ingest-load" > /dev/null 2>&1 || true
  kill -TERM "$SERVER" 2> /dev/null || true; wait "$SERVER" 2> /dev/null || true
  "$KB_NOVA_BIN" keys revoke "$KEY_NAME" > /dev/null 2>&1 || true
}
trap cleanup EXIT
for _ in $(seq 1 600); do curl -sf "http://127.0.0.1:$PORT/readyz" > /dev/null && break; sleep 0.2; done
load() { # label
  NOVA_KEY="$KEY" "$KB_NOVA_BIN" bench http --url "http://127.0.0.1:$PORT/" --kb "eval-$NAME" \
    --queries "$OUT/queries-$NAME.jsonl" --concurrency 1 --duration "$DURATION" \
    --label "$1" --out "$OUT/ingest-contention-$1.json" > /dev/null
}
load idle
curl -sf -X POST "http://127.0.0.1:$PORT/v1/kbs" -H "Authorization: Bearer $KEY" \
  -H 'content-type: application/json' -d '{"name":"ingest-load"}' > /dev/null || true
# Answered 202 once the document is on disk; the ingest task then runs while we search.
curl -sf -o "$OUT/ingest-contention-upload.json" -H "Authorization: Bearer $KEY" \
  "http://127.0.0.1:$PORT/v1/kbs/ingest-load/documents" -F "file=@$DOC;filename=load.md"
sleep 2   # the task has started embedding
load busy
python3 - "$OUT" "$DOC_MB" "$DURATION" <<'PY'
import json, sys
out, mb, secs = sys.argv[1], sys.argv[2], sys.argv[3]
idle, busy = (json.load(open(f"{out}/ingest-contention-{l}.json"))["levels"][0] for l in ("idle", "busy"))
print(f"cold hybrid search, c=1, {secs} s each, query cache off; busy = while a {mb} MiB document is ingested")
print(f"{'':>6} | {'requests':>8} | {'p50 ms':>7} | {'p95 ms':>7} | {'p99 ms':>7}")
for label, l in (("idle", idle), ("busy", busy)):
    print(f"{label:>6} | {l['requests']:>8} | {l['p50_ms']:>7.1f} | {l['p95_ms']:>7.1f} | {l['p99_ms']:>7.1f}")
print(f"p95 busy/idle = {busy['p95_ms'] / idle['p95_ms']:.2f} (bar: 2.00)")
PY
curl -s -H "Authorization: Bearer $KEY" \
  "http://127.0.0.1:$PORT/v1/tasks/$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["task_id"])' "$OUT/ingest-contention-upload.json")" \
  | python3 -c 'import json,sys; t=json.load(sys.stdin); print("ingest task:", t["status"] + ",", t["chunks_done"], "chunks committed so far")'
