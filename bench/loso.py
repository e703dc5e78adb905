#!/usr/bin/env python3
"""Leave-one-set-out choice of the hybrid fusion: for each evaluation set, the fusion is picked on the
*other* sets only, then scored on the left-out one beside dense and BM25 alone there. A default chosen
this way has been judged on data it was not tuned on. Two ways to pick, each printed:
- mean: the best mean nDCG@10 over the other sets;
- worst-gain: the best worst case over the other sets of the gain over the better single mode (the
  smaller of the nDCG@10 and Recall@5 gains) — the target "hybrid above both single modes", as an
  objective; ties broken by mean nDCG@10.
Each table ends with the same rule applied to every set: the fusion the protocol would make the default.

Input: `nova eval --fusion A,B,C… --out REPORT.json` reports, one per set (same fusion list).
Usage: loso.py REPORT.json [REPORT.json ...]"""
import json
import pathlib
import sys


def load(path):
    r = json.loads(pathlib.Path(path).read_text())
    name = pathlib.Path(r["dataset"]).name
    hybrid = {m["fusion"]: m for m in r["modes"] if m["mode"] == "hybrid"}
    single = {m["mode"]: m for m in r["modes"] if m["mode"] != "hybrid"}
    return name, hybrid, single


def gain(hybrid, single, metric):
    return hybrid[metric] - max(single["dense"][metric], single["bm25"][metric])


def above_both(hybrid, single):
    return gain(hybrid, single, "ndcg_at_10") >= 0 and gain(hybrid, single, "recall_at_5") >= 0


def worst_gain(fusion, sets):
    return min(min(gain(h[fusion], s, "ndcg_at_10"), gain(h[fusion], s, "recall_at_5")) for _, h, s in sets)


def mean_ndcg(fusion, sets):
    return sum(h[fusion]["ndcg_at_10"] for _, h, _ in sets) / len(sets)


CRITERIA = {"mean": mean_ndcg, "worst-gain": worst_gain}


def pick(fusions, score, sets):
    """The best by `score`; among equals (worst gains are often exactly 0: small sets tie on Recall@5)
    the best mean nDCG@10 on the same sets, as the default is chosen, then the first by name."""
    return max(sorted(fusions), key=lambda f: (round(score[f], 9), mean_ndcg(f, sets)))


def table(sets, fusions, criterion):
    print(f"\n### Fusion chosen by {criterion} on the other sets\n")
    print("| left out | chosen | tied with | hybrid nDCG@10 | dense | BM25 | hybrid R@5 | dense | BM25 | above both |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    wins = 0
    expected = 0.0
    for i, (name, hybrid, single) in enumerate(sets):
        others = [s for j, s in enumerate(sets) if j != i]
        score = {f: CRITERIA[criterion](f, others) for f in fusions}
        best = pick(fusions, score, others)
        # How many others score the same on the tuning sets: the choice among them rests on the tie
        # break, and the table says so rather than hide it.
        equals = [f for f in fusions if abs(score[f] - score[best]) < 1e-9]
        tied = len(equals) - 1
        h, d, b = hybrid[best], single["dense"], single["bm25"]
        above = above_both(h, single)
        wins += above
        expected += sum(above_both(hybrid[f], single) for f in equals) / len(equals)
        print(
            f"| {name} | {best} | {tied} | {h['ndcg_at_10']:.4f} | {d['ndcg_at_10']:.4f} | {b['ndcg_at_10']:.4f} | "
            f"{h['recall_at_5']:.4f} | {d['recall_at_5']:.4f} | {b['recall_at_5']:.4f} | {'yes' if above else 'no'} |"
        )
    print(f"\nhybrid at or above both single modes (nDCG@10 and Recall@5) on {wins} of {len(sets)} left-out sets")
    print(f"expected with ties broken at random: {expected:.2f} of {len(sets)}")
    # The same rule on every set: what the protocol would ship as the default.
    score = {f: CRITERIA[criterion](f, sets) for f in fusions}
    best = pick(fusions, score, sets)
    tied = sum(1 for f in fusions if f != best and abs(score[f] - score[best]) < 1e-9)
    shown = f"{score[best]:+.4f}" if criterion == "worst-gain" else f"{score[best]:.4f}"
    print(f"chosen on all {len(sets)} sets: {best} ({criterion} {shown}; tied with {tied})")


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    if len(args) < 2:
        sys.exit(__doc__)
    sets = [load(a) for a in args]
    fusions = sorted(set.intersection(*(set(h) for _, h, _ in sets)))
    for criterion in CRITERIA:
        table(sets, fusions, criterion)
    print("\n### Every fusion on every set (nDCG@10; mean and worst gain over the better single mode last)\n")
    print("| fusion | " + " | ".join(n for n, _, _ in sets) + " | mean | worst gain |")
    print("|---|" + "---|" * (len(sets) + 2))
    for f in sorted(fusions, key=lambda f: -worst_gain(f, sets)):
        vals = [h[f]["ndcg_at_10"] for _, h, _ in sets]
        print(f"| {f} | " + " | ".join(f"{v:.4f}" for v in vals) + f" | {mean_ndcg(f, sets):.4f} | {worst_gain(f, sets):+.4f} |")


if __name__ == "__main__":
    main()
