"""The seed stack: what teams glue together today — FastAPI + sentence-transformers + Chroma — serving
the same search route as KB Nova (`POST /v1/kbs/{kb}/search` with {"query", "k"}) so one load tool
can drive both. Same model folder, same documents (title + text per BEIR record).

    python app.py index --corpus ../shared/datasets/scifact/corpus.jsonl --kb scifact
    SEED_MODEL=models/all-MiniLM-L6-v2 uvicorn app:app --port 8090   (from bench/seed_stack)
"""
import argparse
import json
import os
import sys

import chromadb
from fastapi import FastAPI
from pydantic import BaseModel
from sentence_transformers import SentenceTransformer

CACHE = os.environ.get("KB_NOVA_CACHE", os.path.expanduser("~/.cache/kb-nova"))
DB_DIR = os.environ.get("SEED_DB", os.path.join(CACHE, "seed-chroma"))
MODEL_DIR = os.environ.get("SEED_MODEL", "models/all-MiniLM-L6-v2")


_client = None


def client():
    global _client
    if _client is None:
        _client = chromadb.PersistentClient(path=DB_DIR)
    return _client


def index(corpus, kb, model):
    col = client().get_or_create_collection(kb, metadata={"hnsw:space": "cosine"})
    if col.count() > 0:
        print(f"{kb}: already indexed ({col.count()} docs)", file=sys.stderr)
        return
    docs = [json.loads(l) for l in open(corpus, encoding="utf-8") if l.strip()]
    texts = [(d.get("title", "") + " " + d.get("text", "")).strip() for d in docs]
    ids = [str(d.get("_id", d.get("id"))) for d in docs]
    for start in range(0, len(texts), 256):
        batch = texts[start:start + 256]
        vecs = model.encode(batch, batch_size=32, normalize_embeddings=True).tolist()
        col.add(ids=ids[start:start + 256], embeddings=vecs, documents=batch)
        print(f"{kb}: {min(start + 256, len(texts))}/{len(texts)}", file=sys.stderr)


app = FastAPI(title="seed stack")
_model = None


def model():
    global _model
    if _model is None:
        _model = SentenceTransformer(MODEL_DIR, device="cpu")
    return _model


class SearchRequest(BaseModel):
    query: str
    k: int = 10
    mode: str | None = None


@app.post("/v1/kbs/{kb}/search")
def search(kb: str, req: SearchRequest):
    vec = model().encode([req.query], normalize_embeddings=True).tolist()
    res = client().get_collection(kb).query(query_embeddings=vec, n_results=req.k)
    results = [
        {"doc_id": i, "score": 1.0 - d, "text": t}
        for i, d, t in zip(res["ids"][0], res["distances"][0], res["documents"][0])
    ]
    return {"results": results}


@app.get("/healthz")
def healthz():
    model()
    return {"status": "ok"}


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("command", choices=["index"])
    p.add_argument("--corpus", required=True)
    p.add_argument("--kb", required=True)
    a = p.parse_args()
    index(a.corpus, a.kb, model())
