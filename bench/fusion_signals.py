#!/usr/bin/env python3
"""Per-query signals for hybrid fusion, from `nova eval --runs` files: which retriever wins each query,
what the two retrievers' document lists looked like, and a document-level simulation of fusion rules.

Why: no fixed fusion weight is above both single modes on both troubleshooting sets (the shared
questions are worded like the pages, the paraphrased ones are not), so the weight has to follow the
question; this finds signals that tell the two apart before they go into the engine. The simulation
fuses the *document* rankings (best chunk per document, as in the runs file), not the engine's chunk
candidates, so its numbers are indicative: a rule worth keeping is then built into `fusion.rs` and
judged by `bench/compare-quality.sh`'s leave-one-set-out table.

Signals: BM25's best score over its mean (the adaptive fusion's), dense's top-1 − top-10 cosine, BM25's
top-1 − top-2 margin, and agreement — where dense ranks BM25's best document (and vice versa).
Rule simulated: z-score fusion with dense weight `base`, plus `boost` when BM25's best document is not
in dense's top K (BM25 matched words that the meaning does not support).

Usage (after `bash bench/compare-quality.sh troubleshooting troubleshooting-paraphrased`):
  python3 bench/fusion_signals.py troubleshooting troubleshooting-paraphrased
"""
import statistics as st
import sys

from beir import load_qrels, load_runs, ndcg10

RESULTS = "bench/results"
DEFAULT = "hybrid-adaptive:0.55:0.1:4:0.3:10:20"  # the engine's default fusion, as its runs are tagged


def zscores(ranked):
    vals = [s for _, s in ranked]
    if len(vals) < 2:
        return {d: 0.0 for d, _ in ranked}
    mean, sd = st.mean(vals), st.pstdev(vals) or 1.0
    return {d: (s - mean) / sd for d, s in ranked}


def fuse(dense, bm25, alpha):
    """z-score fusion; a document one list lacks gets that list's lowest z."""
    zd, zb = zscores(dense), zscores(bm25)
    low_d, low_b = min(zd.values(), default=0.0), min(zb.values(), default=0.0)
    scores = {d: alpha * zd.get(d, low_d) + (1 - alpha) * zb.get(d, low_b) for d in set(zd) | set(zb)}
    return [d for d, _ in sorted(scores.items(), key=lambda x: -x[1])]


def rank_of(doc, ranked):
    return next((i for i, (d, _) in enumerate(ranked) if d == doc), 99)


def analyse(name):
    runs = load_runs(f"{RESULTS}/quality-runs-{name}.txt")
    qrels = load_qrels(f"{RESULTS}/datasets/{name}/qrels/test.tsv")
    queries = [q for q in sorted(qrels) if runs["dense"].get(q) and runs["bm25"].get(q)]
    rows = []
    for q in queries:
        dense, bm25 = runs["dense"][q], runs["bm25"][q]
        bs, ds = [s for _, s in bm25], [s for _, s in dense]
        rows.append({
            "q": q,
            "dense": ndcg10([d for d, _ in dense], qrels[q]),
            "bm25": ndcg10([d for d, _ in bm25], qrels[q]),
            "default": ndcg10([d for d, _ in runs[DEFAULT].get(q, [])], qrels[q]),
            "ratio": bs[0] / st.mean(bs),
            "dense_margin": ds[0] - ds[min(9, len(ds) - 1)],
            "bm25_margin": (bs[0] - bs[1]) / bs[0] if len(bs) > 1 and bs[0] else 0.0,
            "bm25_top_in_dense": rank_of(bm25[0][0], dense),
            "dense_top_in_bm25": rank_of(dense[0][0], bm25),
        })
    mean = lambda key, rs: st.mean(r[key] for r in rs) if rs else float("nan")
    print(f"== {name}: {len(rows)} queries; nDCG@10 dense {mean('dense', rows):.4f}, "
          f"BM25 {mean('bm25', rows):.4f}, default fusion {mean('default', rows):.4f}")
    dense_wins = [r for r in rows if r["dense"] > r["bm25"] + 0.05]
    bm25_wins = [r for r in rows if r["bm25"] > r["dense"] + 0.05]
    for key in ("ratio", "dense_margin", "bm25_margin", "bm25_top_in_dense", "dense_top_in_bm25"):
        print(f"  {key:18} mean where dense wins {mean(key, dense_wins):7.3f} (n={len(dense_wins)}), "
              f"where BM25 wins {mean(key, bm25_wins):7.3f} (n={len(bm25_wins)})")
    for base in (0.5, 0.6):
        fixed = st.mean(ndcg10(fuse(runs["dense"][q], runs["bm25"][q], base), qrels[q]) for q in queries)
        print(f"  z-score α={base}: {fixed:.4f}")
        for k, boost in ((10, 0.2), (10, 0.3), (20, 0.3)):
            total = 0.0
            for q in queries:
                dense, bm25 = runs["dense"][q], runs["bm25"][q]
                alpha = min(1.0, base + (boost if rank_of(bm25[0][0], dense) >= k else 0.0))
                total += ndcg10(fuse(dense, bm25, alpha), qrels[q])
            print(f"  z-score α={base}, +{boost} when BM25's best is not in dense's top {k}: "
                  f"{total / len(queries):.4f}")


if __name__ == "__main__":
    for set_name in sys.argv[1:] or ["troubleshooting", "troubleshooting-paraphrased"]:
        analyse(set_name)
