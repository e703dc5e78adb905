#!/usr/bin/env python3
"""Leave-one-set-out choice of the hybrid fusion: for each evaluation set, the fusion is picked by
mean nDCG@10 over the *other* sets (each set weighted equally), then scored on the left-out one beside
dense and BM25 alone there. A default chosen this way has been judged on data it was not tuned on.

Input: `nova eval --fusion A,B,C… --out REPORT.json` reports, one per set (same fusion list).
Usage: loso.py REPORT.json [REPORT.json ...] [--markdown]"""
import json
import pathlib
import sys


def load(path):
    r = json.loads(pathlib.Path(path).read_text())
    name = pathlib.Path(r["dataset"]).name
    hybrid = {m["fusion"]: m for m in r["modes"] if m["mode"] == "hybrid"}
    single = {m["mode"]: m for m in r["modes"] if m["mode"] != "hybrid"}
    return name, hybrid, single


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    if len(args) < 2:
        sys.exit(__doc__)
    sets = [load(a) for a in args]
    fusions = sorted(set.intersection(*(set(h) for _, h, _ in sets)))
    print("| left out | fusion chosen on the others | hybrid nDCG@10 | dense | BM25 | hybrid R@5 | dense | BM25 | above both |")
    print("|---|---|---|---|---|---|---|---|---|")
    wins = 0
    for i, (name, hybrid, single) in enumerate(sets):
        others = [s for j, s in enumerate(sets) if j != i]
        best = max(fusions, key=lambda f: sum(h[f]["ndcg_at_10"] for _, h, _ in others) / len(others))
        h, d, b = hybrid[best], single["dense"], single["bm25"]
        above = h["ndcg_at_10"] >= max(d["ndcg_at_10"], b["ndcg_at_10"]) and h["recall_at_5"] >= max(
            d["recall_at_5"], b["recall_at_5"]
        )
        wins += above
        print(
            f"| {name} | {best} | {h['ndcg_at_10']:.4f} | {d['ndcg_at_10']:.4f} | {b['ndcg_at_10']:.4f} | "
            f"{h['recall_at_5']:.4f} | {d['recall_at_5']:.4f} | {b['recall_at_5']:.4f} | {'yes' if above else 'no'} |"
        )
    print(f"\nhybrid at or above both single modes on {wins} of {len(sets)} left-out sets")
    print("\nnDCG@10 of every fusion (mean over sets last):")
    print("| fusion | " + " | ".join(n for n, _, _ in sets) + " | mean |")
    print("|---|" + "---|" * (len(sets) + 1))
    for f in sorted(fusions, key=lambda f: -sum(h[f]["ndcg_at_10"] for _, h, _ in sets)):
        vals = [h[f]["ndcg_at_10"] for _, h, _ in sets]
        print(f"| {f} | " + " | ".join(f"{v:.4f}" for v in vals) + f" | {sum(vals) / len(vals):.4f} |")


if __name__ == "__main__":
    main()
