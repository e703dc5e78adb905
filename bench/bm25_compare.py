#!/usr/bin/env python3
"""KB Nova's BM25 beside bm25s, query by query, on one BEIR folder: nDCG@10 of each side per query,
the queries where they differ most with the terms bm25s produced for them (KB Nova's analysis is the
same Snowball stemmer over a different split and stop-word list; its run shows the outcome), and the
lengths each side indexed. bm25s: English (Lucene) stop words + Snowball, title + " " + text.

Input: a `nova eval --modes bm25 --runs RUN` file for the same folder.
Usage: bm25_compare.py --dataset DIR --runs RUN [--tag bm25] [--worst 10] [--out FILE.json]"""
import argparse
import json

import numpy as np

from beir import documents, load, load_runs, metrics
from quality_baseline import bm25s_search


def nova_runs(path, tag):
    return {q: [d for d, _ in ranked] for q, ranked in load_runs(path)[tag].items()}


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", required=True)
    p.add_argument("--runs", required=True)
    p.add_argument("--tag", default="bm25")
    p.add_argument("--worst", type=int, default=10)
    p.add_argument("--out")
    a = p.parse_args()
    corpus, queries, qrels = load(a.dataset)
    ids, texts = documents(corpus)
    qids = list(queries)
    docs, doc_terms, qtok = bm25s_search(texts, [queries[q] for q in qids])
    peer = {q: [ids[i] for i in row] for q, row in zip(qids, docs)}
    nova = nova_runs(a.runs, a.tag)
    missing = [q for q in qids if q not in nova]
    if missing:
        raise SystemExit(f"{len(missing)} queries have no `{a.tag}` ranking in {a.runs} (e.g. {missing[:3]})")

    rows = []
    for q, terms in zip(qids, qtok):
        n_peer = metrics(peer[q], qrels[q])[0]
        n_nova = metrics(nova[q], qrels[q])[0]
        rows.append({"query": q, "text": queries[q], "bm25s_terms": terms, "ndcg_bm25s": n_peer, "ndcg_nova": n_nova})
    peer_mean = np.mean([r["ndcg_bm25s"] for r in rows])
    nova_mean = np.mean([r["ndcg_nova"] for r in rows])
    lengths = [len(t) for t in doc_terms]
    # Paired bootstrap over queries: how far the mean difference moves with which questions were asked
    # (a set of 40 questions cannot resolve 0.01; the interval says so).
    diffs = np.array([r["ndcg_nova"] - r["ndcg_bm25s"] for r in rows])
    samples = np.random.default_rng(0).integers(0, len(diffs), (10_000, len(diffs)))
    ci = [float(x) for x in np.percentile(diffs[samples].mean(axis=1), [2.5, 97.5])]
    better = sum(r["ndcg_nova"] > r["ndcg_bm25s"] + 1e-9 for r in rows)
    worse = sum(r["ndcg_nova"] < r["ndcg_bm25s"] - 1e-9 for r in rows)
    print(f"{len(rows)} queries, {len(ids)} documents (bm25s: mean {np.mean(lengths):.1f} terms, median {np.median(lengths):.0f})")
    print(f"nDCG@10  KB Nova {a.tag} {nova_mean:.4f}   bm25s {peer_mean:.4f}   Δ {nova_mean - peer_mean:+.4f} "
          f"(95 % paired bootstrap {ci[0]:+.4f} … {ci[1]:+.4f})")
    print(f"per query: KB Nova better on {better}, worse on {worse}, equal on {len(rows) - better - worse}")
    print(f"\nlargest differences (KB Nova − bm25s):")
    for r in sorted(rows, key=lambda r: -abs(r["ndcg_nova"] - r["ndcg_bm25s"]))[: a.worst]:
        print(f"  {r['query']:>8} {r['ndcg_nova'] - r['ndcg_bm25s']:+.3f}  {r['text'][:70]!r}")
        print(f"           bm25s terms: {' '.join(r['bm25s_terms'])[:100]}")
        print(f"           relevant: {sorted(d for d, g in qrels[r['query']].items() if g > 0)[:5]}  "
              f"KB Nova top 3: {nova[r['query']][:3]}  bm25s top 3: {peer[r['query']][:3]}")
    if a.out:
        report = {"nova": nova_mean, "bm25s": peer_mean, "ci": ci, "better": better, "worse": worse, "queries": rows}
        json.dump(report, open(a.out, "w"), indent=1)


if __name__ == "__main__":
    main()
