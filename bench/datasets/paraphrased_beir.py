#!/usr/bin/env python3
"""Builds a BEIR folder that asks a judged collection's questions in other words: the corpus is the
source folder's (linked, not copied: the shared sets are not ours to ship), the queries are our
rewrites, and the judgements are the source's for the rewritten question ids — a paraphrase keeps
the question's meaning, so it keeps its relevant documents.

Usage: paraphrased_beir.py SOURCE_BEIR_DIR QUERIES.jsonl OUT_DIR"""
import json
import pathlib
import sys


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    src, queries, out = (pathlib.Path(a) for a in sys.argv[1:])
    ids = {json.loads(line)["_id"] for line in queries.read_text().splitlines() if line.strip()}
    (out / "qrels").mkdir(parents=True, exist_ok=True)
    corpus = out / "corpus.jsonl"
    if corpus.is_symlink() or corpus.exists():
        corpus.unlink()
    corpus.symlink_to((src / "corpus.jsonl").resolve())
    (out / "queries.jsonl").write_text(queries.read_text())
    lines = (src / "qrels/test.tsv").read_text().splitlines()
    kept = [lines[0]] + [l for l in lines[1:] if l.split("\t")[0] in ids]
    judged = {l.split("\t")[0] for l in kept[1:]}
    if judged != ids:
        sys.exit(f"questions without judgements in {src}: {sorted(ids - judged)}")
    (out / "qrels/test.tsv").write_text("\n".join(kept) + "\n")
    print(f"{out}: {len(ids)} questions, {len(kept) - 1} judgements")


if __name__ == "__main__":
    main()
