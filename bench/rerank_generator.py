#!/usr/bin/env python3
"""The local generator as a second stage: SmolLM2-135M-Instruct (the GGUF KB Nova's local generator
serves) judges each of a ranking's top 10 documents for the question, and the ten are reordered by its
"yes" − "no" log-probability — a measurement of whether a small chat model's judgement adds to hybrid
search, and what it costs per query, before anything is built into the engine.

Run through llama.cpp (llama-cpp-python, as bench/compare-generate.sh builds it) for the first token's
log-probabilities, on the same GGUF and 2 threads; `compare-generate.sh` gives KB Nova's generator
speed beside llama.cpp's. Passages: the document's title and its first WORDS words (the runs file
names documents, not chunks). The ranking reordered is a `nova eval --runs` file's TAG.

Usage: rerank_generator.py --dataset BEIR_DIR --runs RUNS --tag TAG --gguf GGUF [--queries N] [--out F.json]"""
import argparse
import json
import pathlib
import time

import numpy as np
from llama_cpp import Llama

from beir import load_qrels, load_runs, ndcg10

PROMPT = ("<|im_start|>system\nYou judge search results. Answer with yes or no.<|im_end|>\n"
          "<|im_start|>user\nQuestion: {q}\n\nPassage: {p}\n\nDoes the passage answer the question?<|im_end|>\n"
          "<|im_start|>assistant\n")


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    for flag in ("--dataset", "--runs", "--tag", "--gguf"):
        p.add_argument(flag, required=True)
    p.add_argument("--queries", type=int, default=100)
    p.add_argument("--words", type=int, default=120)
    p.add_argument("--out")
    a = p.parse_args()
    root = pathlib.Path(a.dataset)
    corpus = {}
    for line in open(root / "corpus.jsonl"):
        d = json.loads(line)
        corpus[d["_id"]] = (d.get("title", "") + ". " + " ".join(d["text"].split()[: a.words])).strip(". ")
    queries = {json.loads(l)["_id"]: json.loads(l)["text"] for l in open(root / "queries.jsonl")}
    qrels = load_qrels(root / "qrels/test.tsv")
    runs = load_runs(a.runs)[a.tag]  # each query's documents, best first (runs files are in rank order)
    qids = [q for q in qrels if q in runs][: a.queries]
    # Only the prompt's last position is read: logits for every position (logits_all) would cost a
    # vocabulary-sized row per prompt token.
    llm = Llama(model_path=a.gguf, n_ctx=1024, n_threads=2, logits_all=False, verbose=False)
    vocab = {}
    for word in ("yes", "no"):
        vocab[word] = {t for form in (word, word.capitalize(), " " + word, " " + word.capitalize())
                       for t in llm.tokenize(form.encode(), add_bos=False, special=False)[:1]}
    before, after, spent = [], [], 0.0
    for q in qids:
        top = [d for d, _ in runs[q]][:10]
        start = time.perf_counter()
        scores = []
        for d in top:
            tokens = llm.tokenize(PROMPT.format(q=queries[q], p=corpus.get(d, "")).encode(), special=True)
            llm.reset()
            llm.eval(tokens[: llm.n_ctx() - 1])
            # The context keeps the logits of the last evaluated position (the only one asked for).
            logits = np.ctypeslib.as_array(llm._ctx.get_logits(), shape=(llm.n_vocab(),))
            best = lambda word: max(float(logits[t]) for t in vocab[word])
            scores.append(best("yes") - best("no"))
        spent += time.perf_counter() - start
        reranked = [d for _, d in sorted(zip(scores, top), key=lambda x: -x[0])]
        before.append(ndcg10(top, qrels[q]))
        after.append(ndcg10(reranked, qrels[q]))
    n = len(qids)
    report = {"dataset": root.name, "queries": n, "ndcg_before": sum(before) / n, "ndcg_after": sum(after) / n,
              "ms_per_query": 1000 * spent / n}
    print(f"{root.name}: {n} queries, nDCG@10 {report['ndcg_before']:.4f} -> {report['ndcg_after']:.4f} "
          f"({report['ndcg_after'] - report['ndcg_before']:+.4f}), {report['ms_per_query']:.0f} ms per query")
    if a.out:
        json.dump(report, open(a.out, "w"), indent=1)


if __name__ == "__main__":
    main()
