"""Scripted check: the official `openai` Python client, pointed at `nova serve`, gets embeddings equal
(cosine >= 0.99999) to `nova embed` for the same texts. Used by bench/openai-check.sh."""
import os
import json
import subprocess
import sys

from openai import OpenAI

base, nova = sys.argv[1], sys.argv[2]
texts = ["pods stuck in CrashLoopBackOff after upgrade", "VPN drops every few minutes", "printer offline"]
# The API key the calling script created (sent as `Authorization: Bearer …`, as any OpenAI client does).
client = OpenAI(base_url=base + "/v1", api_key=os.environ.get("NOVA_KEY", "unused"))
got = [d.embedding for d in client.embeddings.create(model="all-MiniLM-L6-v2", input=texts).data]
lines = subprocess.run([nova, "embed", *texts], capture_output=True, text=True, check=True).stdout.splitlines()
want = [json.loads(l)["embedding"] for l in lines]
for t, a, b in zip(texts, got, want):
    dot = sum(x * y for x, y in zip(a, b))
    cos = dot / (sum(x * x for x in a) ** 0.5 * sum(y * y for y in b) ** 0.5)
    print(f"{cos:.7f}  {t}")
    assert cos >= 0.99999, f"cosine {cos} for {t!r}"
print("openai client embeddings equal nova embed")
