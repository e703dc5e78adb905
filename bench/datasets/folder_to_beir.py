#!/usr/bin/env python3
"""A folder of documents plus a KB Nova queries file (`{"id","text","relevant":[paths]}`) as a BEIR folder
(document id = path under the folder, text = the file as it is, no title), so the peers (bm25s, exact
MiniLM) can rank the same documents: what `bench/compare-quality.sh` uses for the BM25 comparison on the
troubleshooting sets. Usage: folder_to_beir.py DOCS_DIR QUERIES.jsonl OUT_DIR"""
import json
import pathlib
import sys


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    docs, queries, out = (pathlib.Path(a) for a in sys.argv[1:])
    (out / "qrels").mkdir(parents=True, exist_ok=True)
    ids = []
    with open(out / "corpus.jsonl", "w") as f:
        for path in sorted(p for p in docs.rglob("*") if p.is_file() and p.suffix in {".md", ".txt", ".html"}):
            doc_id = path.relative_to(docs).as_posix()
            ids.append(doc_id)
            f.write(json.dumps({"_id": doc_id, "title": "", "text": path.read_text(errors="replace")}) + "\n")
    with open(out / "queries.jsonl", "w") as q, open(out / "qrels" / "test.tsv", "w") as r:
        r.write("query-id\tcorpus-id\tscore\n")
        for line in open(queries):
            if not line.strip():
                continue
            item = json.loads(line)
            q.write(json.dumps({"_id": item["id"], "text": item["text"]}) + "\n")
            for rel in item["relevant"]:
                match = [d for d in ids if rel == d or rel.endswith("/" + d)]
                if not match:
                    sys.exit(f"{item['id']}: {rel} is not under {docs}")
                r.write(f"{item['id']}\t{match[0]}\t1\n")
    print(f"{out}: {len(ids)} documents")


if __name__ == "__main__":
    main()
