#!/usr/bin/env python3
"""ONNX Runtime throughput and latency on exactly the texts `nova bench embed` used, with the same model
folder: the graph is exported from that folder's weights (torch.onnx, dynamic batch and sequence axes,
cached next to the results), run by onnxruntime's CPU provider with `intra_op_num_threads` = 1 and 2, mean
pooling and L2 normalisation in numpy as sentence-transformers does. This is what a Rust user reaches for
(fastembed and friends run ORT). Checks the vectors against sentence-transformers' (cosine) before timing.
Writes a JSON result like nova's and embed_baseline.py's."""
import argparse
import json
import pathlib

import numpy as np
import onnxruntime as ort
import torch
from sentence_transformers import SentenceTransformer
from transformers import AutoModel, AutoTokenizer

# The same timing loops as the sentence-transformers baseline (they only call `encode`; their
# torch.set_num_threads does not touch ORT, whose threads are the session's), one session per thread count.
from embed_baseline import sweep


class Hidden(torch.nn.Module):
    """The encoder with named inputs and its last hidden state as the one output."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, input_ids, attention_mask, token_type_ids):
        return self.model(input_ids=input_ids, attention_mask=attention_mask,
                          token_type_ids=token_type_ids).last_hidden_state


def export(model_dir, path):
    if path.exists():
        return
    model = Hidden(AutoModel.from_pretrained(model_dir).eval())
    tok = AutoTokenizer.from_pretrained(model_dir)
    sample = tok(["a sample sentence", "another"], return_tensors="pt", padding=True)
    axes = {0: "batch", 1: "seq"}
    path.parent.mkdir(parents=True, exist_ok=True)
    with torch.no_grad():
        torch.onnx.export(
            model,
            (sample["input_ids"], sample["attention_mask"], sample["token_type_ids"]),
            str(path),
            input_names=["input_ids", "attention_mask", "token_type_ids"],
            output_names=["last_hidden_state"],
            dynamic_axes={"input_ids": axes, "attention_mask": axes, "token_type_ids": axes,
                          "last_hidden_state": axes},
            opset_version=17,
            dynamo=False,
        )


class OrtEncoder:
    """The `encode` sentence-transformers offers, on an ORT session."""

    def __init__(self, onnx_path, model_dir, threads, max_seq_length):
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self.session = ort.InferenceSession(str(onnx_path), opts, providers=["CPUExecutionProvider"])
        self.tokenizer = AutoTokenizer.from_pretrained(model_dir)
        self.max_seq_length = max_seq_length

    def encode(self, texts, batch_size=32, normalize_embeddings=True):
        out = []
        for i in range(0, len(texts), batch_size):
            enc = self.tokenizer(texts[i:i + batch_size], padding=True, truncation=True,
                                 max_length=self.max_seq_length, return_tensors="np")
            feeds = {k: enc[k].astype(np.int64) for k in ("input_ids", "attention_mask", "token_type_ids")}
            hidden = self.session.run(None, feeds)[0]
            mask = feeds["attention_mask"][..., None].astype(np.float32)
            pooled = (hidden * mask).sum(1) / np.clip(mask.sum(1), 1e-9, None)
            if normalize_embeddings:
                pooled /= np.linalg.norm(pooled, axis=1, keepdims=True)
            out.append(pooled)
        return np.concatenate(out)


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--texts", required=True, help="the *.texts.json file written by nova bench embed")
    p.add_argument("--model", default="models/all-MiniLM-L6-v2")
    p.add_argument("--onnx", default="bench/results/all-MiniLM-L6-v2.onnx")
    p.add_argument("--threads", default="1,2")
    p.add_argument("--min-seconds", type=float, default=3.0)
    p.add_argument("--batch-sizes", default="1,2,4,8")
    p.add_argument("--out", default="bench/results/embed-ort.json")
    a = p.parse_args()
    texts = json.loads(pathlib.Path(a.texts).read_text())
    onnx_path = pathlib.Path(a.onnx)
    export(a.model, onnx_path)
    st = SentenceTransformer(a.model, device="cpu")
    sample = texts["queries"][:16] + texts["passages"][:16]
    reference = st.encode(sample, normalize_embeddings=True)
    cosines = []

    def session(threads):
        model = OrtEncoder(onnx_path, a.model, threads, st.max_seq_length)
        cosines.append(float((model.encode(sample) * reference).sum(1).min()))
        print(f"threads={threads}: lowest cosine to sentence-transformers {cosines[-1]:.6f}")
        return model

    cases, lat = sweep(session, texts, a)
    meta = {"tool": "onnxruntime", "onnxruntime": ort.__version__, "model": a.model, "min_cosine_to_st": min(cosines),
            "cases": cases, "latency": lat}
    pathlib.Path(a.out).write_text(json.dumps(meta, indent=2))
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
