#!/usr/bin/env python3
"""Retrieval-quality peers on a BEIR folder: bm25s (English stop words + Snowball stemmer), exact
sentence-transformers cosine with the same model folder, and their RRF (k=60). Prints nDCG@10,
Recall@100 and MRR@10 (trec_eval conventions: linear graded gains, log2 discount; title + " " + text)
and writes a JSON report."""
import argparse
import json
import pathlib

import bm25s
import numpy as np
import Stemmer
from sentence_transformers import SentenceTransformer

from beir import documents, load, metrics


def bm25s_search(texts, query_texts, k=100):
    """bm25s as its README runs it (English stop words + Snowball): per query the indexes of its top
    `k` documents, with each document's and each query's terms."""
    stemmer = Stemmer.Stemmer("english")
    doc_terms = bm25s.tokenize(texts, stopwords="en", stemmer=stemmer, return_ids=False, show_progress=False)
    query_terms = bm25s.tokenize(query_texts, stopwords="en", stemmer=stemmer, return_ids=False, show_progress=False)
    retriever = bm25s.BM25()
    retriever.index(bm25s.tokenize(texts, stopwords="en", stemmer=stemmer, show_progress=False), show_progress=False)
    qtok = bm25s.tokenize(query_texts, stopwords="en", stemmer=stemmer, show_progress=False)
    top, _ = retriever.retrieve(qtok, k=min(k, len(texts)), show_progress=False)
    return top, doc_terms, query_terms


def rrf(lists, k=60):
    scores = {}
    for lst in lists:
        for r, d in enumerate(lst):
            scores[d] = scores.get(d, 0.0) + 1 / (k + r + 1)
    return sorted(scores, key=lambda d: -scores[d])


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--dataset", required=True)
    p.add_argument("--model", default="models/all-MiniLM-L6-v2")
    p.add_argument("--out")
    a = p.parse_args()
    corpus, queries, qrels = load(a.dataset)
    ids, texts = documents(corpus)
    qids = list(queries)

    docs, _, _ = bm25s_search(texts, [queries[q] for q in qids])
    bm25_runs = {q: [ids[i] for i in row] for q, row in zip(qids, docs)}

    model = SentenceTransformer(a.model, device="cpu")
    demb = model.encode(texts, batch_size=32, normalize_embeddings=True, show_progress_bar=True)
    qemb = model.encode([queries[q] for q in qids], batch_size=32, normalize_embeddings=True)
    sims = qemb @ demb.T
    top = np.argsort(-sims, axis=1)[:, :100]
    dense_runs = {q: [ids[i] for i in row] for q, row in zip(qids, top)}
    hybrid_runs = {q: rrf([dense_runs[q], bm25_runs[q]]) for q in qids}

    report = {}
    print(f"{'peer':<12} {'nDCG@10':>8} {'Recall@100':>10} {'MRR@10':>8}")
    for name, runs in [("rrf", hybrid_runs), ("exact-minilm", dense_runs), ("bm25s", bm25_runs)]:
        m = np.mean([metrics(runs[q], qrels[q]) for q in qids], axis=0)
        report[name] = {"ndcg_at_10": m[0], "recall_at_100": m[1], "mrr_at_10": m[2]}
        print(f"{name:<12} {m[0]:>8.4f} {m[1]:>10.4f} {m[2]:>8.4f}")
    if a.out:
        pathlib.Path(a.out).write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
