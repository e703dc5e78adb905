"""llama.cpp (through llama-cpp-python) on the same GGUF and chat as `nova bench generate`: time to first
token (prefill + first greedy token) and decode tokens/s over exactly --tokens tokens (end of turn
ignored, as nova's side does), median of --runs after one warm-up. Prints and writes JSON."""

import argparse
import json
import statistics
import time

from llama_cpp import Llama
from llama_cpp.llama_chat_format import Jinja2ChatFormatter


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--gguf", required=True)
    ap.add_argument("--messages", required=True, help="JSON file: [{role, content}, ...]")
    ap.add_argument("--tokens", type=int, default=128)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out")
    args = ap.parse_args()

    messages = json.load(open(args.messages))
    llm = Llama(model_path=args.gguf, n_ctx=4096, n_threads=args.threads,
                n_threads_batch=args.threads, n_batch=512, verbose=False)
    meta = llm.metadata
    eos = llm.detokenize([llm.token_eos()], special=True).decode()
    bos = llm.detokenize([llm.token_bos()], special=True).decode()
    formatter = Jinja2ChatFormatter(template=meta["tokenizer.chat_template"], eos_token=eos,
                                    bos_token=bos, add_generation_prompt=True)
    prompt = formatter(messages=messages).prompt
    tokens = llm.tokenize(prompt.encode(), add_bos=False, special=True)

    def once():
        llm.reset()
        start = time.perf_counter()
        llm.eval(tokens)
        tok = llm.sample(temp=0.0, repeat_penalty=1.0)
        first = time.perf_counter()
        out = [tok]
        for _ in range(args.tokens - 1):
            llm.eval([tok])
            tok = llm.sample(temp=0.0, repeat_penalty=1.0)
            out.append(tok)
        end = time.perf_counter()
        once.text = llm.detokenize(out).decode(errors="replace")
        return first - start, (args.tokens - 1) / (end - first)

    once()  # warm-up: page the weights in, size the buffers
    runs = [once() for _ in range(args.runs)]
    result = {
        "engine": "llama.cpp (llama-cpp-python)",
        "prompt_tokens": len(tokens),
        "completion_tokens": args.tokens,
        "threads": args.threads,
        "ttft_ms": 1000 * statistics.median(r[0] for r in runs),
        "tokens_per_second": statistics.median(r[1] for r in runs),
        "text": once.text,
        "runs": [{"ttft_ms": 1000 * a, "tokens_per_second": b} for a, b in runs],
    }
    print(json.dumps({k: v for k, v in result.items() if k not in ("runs", "text")}))
    if args.out:
        json.dump(result, open(args.out, "w"), indent=2)


if __name__ == "__main__":
    main()
