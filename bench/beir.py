"""Reading BEIR folders and `nova eval --runs` files, and scoring rankings — the standard library only,
so every bench script can import it without the peers' packages (sentence-transformers, bm25s)."""
import collections
import json
import math
import pathlib


def load_qrels(path):
    """`query-id  corpus-id  score` lines (a header line, if any, is skipped): {query: {doc: grade}}."""
    qrels = {}
    for i, line in enumerate(open(path)):
        cols = line.rstrip("\n").split("\t")
        if len(cols) != 3 or (i == 0 and not cols[2].strip().isdigit()):
            continue
        qrels.setdefault(cols[0], {})[cols[1]] = int(cols[2])
    return qrels


def load(d):
    """A BEIR folder: its corpus (list of objects), its judged queries ({id: text}) and its qrels."""
    d = pathlib.Path(d)
    corpus = [json.loads(l) for l in open(d / "corpus.jsonl") if l.strip()]
    queries = {q["_id"]: q["text"] for q in map(json.loads, open(d / "queries.jsonl")) if q}
    qrels = load_qrels(d / "qrels" / "test.tsv")
    queries = {k: v for k, v in queries.items() if k in qrels}
    return corpus, queries, qrels


def documents(corpus):
    """Ids and the text the peers index (title + " " + text)."""
    return [c["_id"] for c in corpus], [(c.get("title", "") + " " + c.get("text", "")).strip() for c in corpus]


def load_runs(path):
    """A TREC run file as `nova eval --runs` writes it (each query's documents in rank order):
    {tag: {query: [(doc, score), …]}}."""
    runs = collections.defaultdict(lambda: collections.defaultdict(list))
    for line in open(path):
        q, _, doc, _, score, tag = line.split()
        runs[tag][q].append((doc, float(score)))
    return runs


def metrics(ranked, rels):
    """nDCG@10 (linear graded gains, log2 discount, as trec_eval), Recall@100 and MRR@10."""
    dcg = sum(rels.get(d, 0) / math.log2(i + 2) for i, d in enumerate(ranked[:10]))
    ideal = sorted((g for g in rels.values() if g > 0), reverse=True)[:10]
    idcg = sum(g / math.log2(i + 2) for i, g in enumerate(ideal))
    relevant = {d for d, g in rels.items() if g > 0}
    recall = len(relevant & set(ranked[:100])) / len(relevant) if relevant else 0.0
    mrr = next((1 / (i + 1) for i, d in enumerate(ranked[:10]) if d in relevant), 0.0)
    return (dcg / idcg if idcg else 0.0), recall, mrr


def ndcg10(ranked, rels):
    return metrics(ranked, rels)[0]
