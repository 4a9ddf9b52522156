"""Single-stream decode speed of a running silo through the OpenAI API: questions one at a time, greedy, streaming;
decode tok/s = (completion tokens - 1) / (time of the last token - time of the first token), summed over questions.

usage: python3 tools/model-questions/decode_speed.py URL QUESTIONS.json [--n N] [--task add3]
"""
import argparse
import json
import time
import urllib.request

ap = argparse.ArgumentParser()
ap.add_argument("url")
ap.add_argument("questions")
ap.add_argument("--n", type=int, default=20)
ap.add_argument("--task", default="add3")
args = ap.parse_args()
base = args.url.rstrip("/")
with urllib.request.urlopen(base + "/v1/models") as r:
    model = json.load(r)["data"][0]["id"]
qs = [r for r in json.load(open(args.questions, encoding="utf-8")) if r["task"] == args.task][: args.n]
tokens = 0
decode_s = 0.0
right = 0
for q in qs:
    body = json.dumps({"model": model, "messages": [{"role": "user", "content": q["question"]}], "temperature": 0,
                       "max_tokens": 800, "stream": True, "stream_options": {"include_usage": True}}).encode()
    req = urllib.request.Request(base + "/v1/chat/completions", body, {"Content-Type": "application/json"})
    first = last = None
    content = ""
    n = 0
    with urllib.request.urlopen(req, timeout=600) as r:
        for line in r:
            line = line.decode().strip()
            if not line.startswith("data:") or line == "data: [DONE]":
                continue
            ev = json.loads(line[5:])
            if ev.get("usage"):
                n = ev["usage"]["completion_tokens"]
            for c in ev.get("choices", []):
                d = c.get("delta", {})
                if d.get("content") or d.get("reasoning_content"):
                    now = time.perf_counter()
                    first = first or now
                    last = now
                    content += d.get("content") or ""
    right += content.strip() == q["answer"]
    tokens += n - 1
    decode_s += last - first
print(f"{len(qs)} {args.task} questions one at a time: {right} right, {tokens} decode tokens in {decode_s:.2f} s "
      f"= {tokens / decode_s:.1f} tok/s")
with urllib.request.urlopen(base + "/metrics") as r:
    for line in r.read().decode().splitlines():
        if line.startswith("r1") and "spec_decode" in line or line.startswith("spec_decode") or "spec_decode_" in line and not line.startswith("#"):
            print(line)
