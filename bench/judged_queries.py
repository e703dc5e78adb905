"""Writes a BEIR set's judged test queries (those in qrels/test.tsv) as {"text": …} lines, as nova eval
uses them: the query file for `nova bench http`. Usage: judged_queries.py BEIR_DIR OUT.jsonl"""
import json
import sys

d, out = sys.argv[1], sys.argv[2]
test = {l.split("\t")[0] for l in open(f"{d}/qrels/test.tsv") if l.strip() and not l.startswith("query")}
with open(out, "w") as f:
    for l in open(f"{d}/queries.jsonl"):
        q = json.loads(l)
        if str(q["_id"]) in test:
            f.write(json.dumps({"text": q["text"]}) + "\n")
