#!/usr/bin/env python3
"""The TF-IDF + linear baseline for ticket routing, as a Python team would build it (scikit-learn):
TfidfVectorizer (word 1-2 grams, sublinear tf) + LogisticRegression, and the majority class, scored by
stratified 5-fold cross-validation (seed 42) with accuracy and macro-F1, like `nova tickets train`.

    ~/.cache/kb-nova/venv/bin/python bench/tickets_baseline.py ../shared/datasets/tickets/tickets.jsonl \
        --text subject,body --label category
    ~/.cache/kb-nova/venv/bin/python bench/tickets_baseline.py ../shared/datasets/tickets/it_tickets.csv \
        --text Document --label Topic_group

Prints a table and writes JSON to bench/results/tickets-baseline-<file>.json.
"""
import argparse
import csv
import json
import pathlib
import sys

from sklearn.dummy import DummyClassifier
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score
from sklearn.model_selection import StratifiedKFold, cross_val_predict
from sklearn.pipeline import make_pipeline


def rows(path):
    if path.suffix == ".csv":
        with path.open(newline="", encoding="utf-8") as f:
            yield from csv.DictReader(f)
    else:
        with path.open(encoding="utf-8") as f:
            for line in f:
                if line.strip():
                    yield json.loads(line)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("file", type=pathlib.Path)
    ap.add_argument("--text", default="subject,body", help="text fields, comma-separated")
    ap.add_argument("--label", default="category")
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--out", type=pathlib.Path)
    args = ap.parse_args()
    fields = args.text.split(",")
    texts, labels = [], []
    for r in rows(args.file):
        text = "\n".join(str(r.get(f) or "") for f in fields).strip()
        label = str(r.get(args.label) or "").strip()
        if text and label:  # the same rows nova trains on: a body and a label
            texts.append(text)
            labels.append(label)
    folds = StratifiedKFold(n_splits=args.folds, shuffle=True, random_state=args.seed)
    methods = {
        "tfidf-logreg": make_pipeline(
            TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=2),
            LogisticRegression(max_iter=2000, C=10.0),
        ),
        "majority": DummyClassifier(strategy="most_frequent"),
    }
    results = {}
    print(f"{len(texts)} tickets, {len(set(labels))} classes, {args.folds}-fold CV (seed {args.seed})")
    print(f"{'method':<14}{'accuracy':>9}{'macro-F1':>10}")
    for name, model in methods.items():
        pred = cross_val_predict(model, texts, labels, cv=folds)
        acc = accuracy_score(labels, pred)
        f1 = f1_score(labels, pred, average="macro")
        results[name] = {"accuracy": acc, "macro_f1": f1}
        print(f"{name:<14}{acc:>9.3f}{f1:>10.3f}")
    out = args.out or pathlib.Path(__file__).parent / "results" / f"tickets-baseline-{args.file.stem}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"file": str(args.file), "n": len(texts), "results": results}, indent=2))
    print(f"→ {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
