#!/usr/bin/env bash
# The local generator against llama.cpp (llama-cpp-python, built here from source: needs cmake) on the
# same GGUF and the same chat (bench/generate-messages.json: the grounded prompt with five example
# articles, ~1,000 tokens), in one run: time to first token and decode tokens/s over TOKENS (128) greedy
# tokens, median of RUNS (5) after a warm-up, THREADS (2) threads each. Results in bench/results/.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
source scripts/env.sh
TOKENS="${TOKENS:-128}" RUNS="${RUNS:-5}" THREADS="${THREADS:-2}"
GGUF="${GGUF:-models/SmolLM2-135M-Instruct.Q4_1.gguf}"
MESSAGES="${MESSAGES:-bench/generate-messages.json}"
VENV="$KB_NOVA_CACHE/llama-venv"
if ! "$VENV/bin/python" -c "import llama_cpp" 2>/dev/null || [ -n "${LLAMA_REBUILD:-}" ]; then
  command -v cmake > /dev/null || { echo "llama-cpp-python builds llama.cpp: apt-get install -y cmake" >&2; exit 1; }
  python3 -m venv "$VENV"
  echo "building llama-cpp-python (a few minutes)…" >&2
  # Not -march=native: on VMs that advertise AMX/AVX-512 without enabling them, a native build dies with
  # "Illegal instruction". AVX2 + FMA + F16C is what KB Nova's own kernels use.
  CMAKE_ARGS="${LLAMA_CMAKE_ARGS:--DGGML_NATIVE=OFF -DGGML_AVX=ON -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON}" \
    "$VENV/bin/pip" install --quiet --disable-pip-version-check --no-cache-dir --force-reinstall --no-deps \
    "llama-cpp-python==0.3.36" >&2
fi
cargo build --locked --bin nova
mkdir -p bench/results
"$KB_NOVA_BIN" --threads "$THREADS" bench generate --gguf "$GGUF" --messages "$MESSAGES" \
  --tokens "$TOKENS" --runs "$RUNS" --out bench/results/generate-nova.json
"$VENV/bin/python" bench/generate_baseline.py --gguf "$GGUF" --messages "$MESSAGES" \
  --tokens "$TOKENS" --runs "$RUNS" --threads "$THREADS" --out bench/results/generate-llamacpp.json
python3 - <<'PY'
import json
n = json.load(open("bench/results/generate-nova.json"))
l = json.load(open("bench/results/generate-llamacpp.json"))
print(f"{'':<22}{'prompt tok':>11}{'TTFT ms':>10}{'decode tok/s':>14}")
for name, r in (("KB Nova", n), ("llama.cpp", l)):
    print(f"{name:<22}{r['prompt_tokens']:>11}{r['ttft_ms']:>10.0f}{r['tokens_per_second']:>14.1f}")
print(f"{'nova / llama.cpp':<22}{'':>11}{n['ttft_ms'] / l['ttft_ms']:>10.2f}{n['tokens_per_second'] / l['tokens_per_second']:>14.2f}")
same = next((i for i, (a, b) in enumerate(zip(n["text"], l["text"])) if a != b), min(len(n["text"]), len(l["text"])))
print(f"greedy continuations agree on their first {same} characters")
PY
