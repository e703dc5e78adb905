#!/usr/bin/env python3
"""Writes crates/nova-embed/tests/fixtures/st_golden.jsonl: our own small parity fixture, made with
sentence-transformers from the same model folder, so the parity test runs on a clone without ../shared.

Usage: ~/.cache/kb-nova/venv/bin/python scripts/make-golden.py   (needs sentence-transformers; see bench/README.md)
"""
import json
import pathlib

from sentence_transformers import SentenceTransformer

ROOT = pathlib.Path(__file__).resolve().parent.parent
MODEL = ROOT / "models" / "all-MiniLM-L6-v2"
OUT = ROOT / "crates" / "nova-embed" / "tests" / "fixtures" / "st_golden.jsonl"

TEXTS = [
    "",
    "   \t\n",
    "x",
    "Pods stuck in CrashLoopBackOff after upgrading the cluster to 1.29",
    "VPN disconnects every 10 minutes on Windows 11 (error 809)",
    "ERROR 2026-03-01T12:00:00Z [db-pool] connection refused: 10.0.0.12:5432",
    "How do I reset my password? I tried the 'Forgot password' link but no e-mail arrives.",
    "[CLS] literal special tokens [SEP] [MASK] and [cls] in lower case",
    "Café naïve résumé — ümlauts, ß and İstanbul",
    "日本語のテキストと中文文本",
    "Ошибка подключения к базе данных",
    "emoji 🚀🔥 and flags 🇩🇪 and ZWJ 👩‍💻",
    "$ kubectl rollout restart deployment/api -n prod && kubectl get pods -w",
    "Traceback (most recent call last):\n  File \"app.py\", line 3, in <module>\n    import foo\nModuleNotFoundError: No module named 'foo'",
    "a" * 101,
    " ".join(["word"] * 254),
    " ".join(f"troubleshooting step {i} restart the service and check the logs" for i in range(60)),
]


def main() -> None:
    model = SentenceTransformer(str(MODEL), device="cpu")
    assert model.max_seq_length == 256, model.max_seq_length
    embeddings = model.encode(TEXTS, batch_size=8, normalize_embeddings=True)
    tok = model.tokenizer
    with OUT.open("w", encoding="utf-8") as f:
        for text, emb in zip(TEXTS, embeddings):
            ids = tok(text, truncation=True, max_length=256)["input_ids"]
            row = {"text": text, "input_ids": ids, "embedding": [float(x) for x in emb]}
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(f"wrote {len(TEXTS)} rows to {OUT}")


if __name__ == "__main__":
    main()
