#!/usr/bin/env python3
"""sentence-transformers throughput on exactly the texts `nova bench embed` used (its *.texts.json file),
with the same model folder, batch size 32, on 1 and 2 torch threads. Writes a JSON result like nova's."""
import argparse
import json
import pathlib
import time

import torch
from sentence_transformers import SentenceTransformer


def measure(model, texts, threads, min_seconds):
    torch.set_num_threads(threads)
    tokens = sum(len(ids) for ids in model.tokenizer(texts, truncation=True, max_length=model.max_seq_length)["input_ids"])
    model.encode(texts[:32], batch_size=32)  # warm-up
    passes, start = 0, time.perf_counter()
    while passes == 0 or time.perf_counter() - start < min_seconds:
        model.encode(texts, batch_size=32, normalize_embeddings=True)
        passes += 1
    seconds = time.perf_counter() - start
    return {
        "threads": threads,
        "texts": len(texts),
        "avg_tokens": tokens / len(texts),
        "seconds": seconds,
        "texts_per_s": len(texts) * passes / seconds,
        "tokens_per_s": tokens * passes / seconds,
    }


def latency(model, texts, threads, batch, min_seconds):
    """Calls of `batch` consecutive queries, as nova bench embed measures: per-call p50/p99."""
    torch.set_num_threads(threads)
    model.encode(texts[:batch], batch_size=batch)  # warm-up
    millis, start, nxt = [], time.perf_counter(), 0
    while not millis or time.perf_counter() - start < min_seconds:
        call = [texts[(nxt + i) % len(texts)] for i in range(batch)]
        nxt = (nxt + batch) % len(texts)
        t0 = time.perf_counter()
        model.encode(call, batch_size=batch, normalize_embeddings=True)
        millis.append((time.perf_counter() - t0) * 1000)
    seconds = time.perf_counter() - start
    millis.sort()
    pick = lambda q: millis[min(len(millis) - 1, int(q * len(millis)))]
    return {"set": "queries", "threads": threads, "batch": batch, "calls": len(millis),
            "p50_ms": pick(0.50), "p99_ms": pick(0.99), "texts_per_s": len(millis) * batch / seconds}


def sweep(model_for, texts, a):
    """Throughput of both sets and query latency per batch size, for each thread count of `a.threads`;
    `model_for(threads)` gives the model to time (the same one, or one session per thread count)."""
    cases, lat = [], []
    for threads in [int(t) for t in a.threads.split(",")]:
        model = model_for(threads)
        for name in ("queries", "passages"):
            case = {"set": name, **measure(model, texts[name], threads, a.min_seconds)}
            print(f"{name:<9} threads={threads} {case['texts_per_s']:8.1f} texts/s {case['tokens_per_s']:9.0f} tokens/s")
            cases.append(case)
        for batch in [int(b) for b in a.batch_sizes.split(",") if b]:
            case = latency(model, texts["queries"], threads, batch, a.min_seconds)
            print(f"queries   threads={threads} batch={batch:<2} p50 {case['p50_ms']:7.2f} ms  p99 {case['p99_ms']:7.2f} ms")
            lat.append(case)
    return cases, lat


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--texts", required=True, help="the *.texts.json file written by nova bench embed")
    p.add_argument("--model", default="models/all-MiniLM-L6-v2")
    p.add_argument("--threads", default="1,2")
    p.add_argument("--min-seconds", type=float, default=3.0)
    p.add_argument("--batch-sizes", default="1,2,4,8", help="query batch sizes whose latency is measured")
    p.add_argument("--out", default="bench/results/embed-st.json")
    a = p.parse_args()
    texts = json.loads(pathlib.Path(a.texts).read_text())
    model = SentenceTransformer(a.model, device="cpu")
    cases, lat = sweep(lambda threads: model, texts, a)
    meta = {"tool": "sentence-transformers", "torch": torch.__version__, "model": a.model, "cases": cases,
            "latency": lat}
    pathlib.Path(a.out).write_text(json.dumps(meta, indent=2))
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
