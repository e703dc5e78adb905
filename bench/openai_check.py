"""Scripted check: the official `openai` Python client, pointed at `nova serve`, gets embeddings equal
(cosine >= 0.99999) to `nova embed` for the same texts, lists the knowledge bases as models, and gets a
grounded chat completion from "kb:default", whole and streamed (the same text at temperature 0, usage
in the last chunk). Used by bench/openai-check.sh."""
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

models = [m.id for m in client.models.list().data]
print("models:", ", ".join(models))
assert "kb:default" in models, models

question = [{"role": "user", "content": "My pod is stuck in CrashLoopBackOff. What should I check?"}]
whole = client.chat.completions.create(model="kb:default", messages=question, temperature=0, max_tokens=96)
text = whole.choices[0].message.content
print("non-streaming:", whole.choices[0].finish_reason, whole.usage.completion_tokens, "tokens")
print(text)
assert text and whole.usage.prompt_tokens > 0, whole

parts, usage, finish = [], None, None
stream = client.chat.completions.create(model="kb:default", messages=question, temperature=0,
                                        max_tokens=96, stream=True,
                                        stream_options={"include_usage": True})
for chunk in stream:
    if chunk.usage is not None:
        usage = chunk.usage
    for choice in chunk.choices:
        parts.append(choice.delta.content or "")
        finish = choice.finish_reason or finish
streamed = "".join(parts)
print(f"streaming: {len(parts)} chunks, finish {finish}, usage {usage}")
assert streamed == text, (streamed, text)
assert usage is not None and usage.completion_tokens == whole.usage.completion_tokens, usage
assert finish in ("stop", "length"), finish
print("openai client chat completions work, streamed and not")
