"""Accuracy per task of a running silo, through its OpenAI-compatible API (POST /v1/chat/completions), greedy.

usage: python3 tools/model-questions/measure.py URL QUESTIONS.json [--n N] [--concurrency C] [--tasks t1,t2]
QUESTIONS.json comes from make_questions.py. A question is right when `content` (the text after </think>) equals the
expected answer exactly and `reasoning_content` is non-empty, as training/evaluate.py scores. Standard library only.
"""
import argparse
import json
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor

# training/evaluate.py's token budgets
MAX_NEW = {"add3": 200, "add": 260, "sub": 300, "mul": 760, "cmp": 160, "count": 200, "sort": 330}

ap = argparse.ArgumentParser()
ap.add_argument("url")
ap.add_argument("questions")
ap.add_argument("--n", type=int, default=500)
ap.add_argument("--concurrency", type=int, default=16)
ap.add_argument("--tasks", default="")
args = ap.parse_args()
base = args.url.rstrip("/")
with urllib.request.urlopen(base + "/v1/models") as r:
    model = json.load(r)["data"][0]["id"]
rows = json.load(open(args.questions, encoding="utf-8"))
tasks = [t for t in dict.fromkeys(r["task"] for r in rows) if not args.tasks or t in args.tasks.split(",")]


def ask(q):
    body = json.dumps({"model": model, "messages": [{"role": "user", "content": q["question"]}],
                       "temperature": 0, "max_tokens": MAX_NEW[q["task"]]}).encode()
    req = urllib.request.Request(base + "/v1/chat/completions", body, {"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=600) as r:
        resp = json.load(r)
    msg = resp["choices"][0]["message"]
    content = (msg.get("content") or "").strip()
    reasoning = (msg.get("reasoning_content") or "").strip()
    return content == q["answer"] and reasoning != "", resp["usage"]["completion_tokens"], content, q


print(f"model {model}, concurrency {args.concurrency}, greedy")
total_right = total = 0
for task in tasks:
    qs = [r for r in rows if r["task"] == task][: args.n]
    t0 = time.time()
    with ThreadPoolExecutor(args.concurrency) as ex:
        res = list(ex.map(ask, qs))
    dt = time.time() - t0
    right = sum(r[0] for r in res)
    toks = sum(r[1] for r in res)
    total_right += right
    total += len(res)
    wrong = [f"{r[3]['question']!r} -> {r[2]!r}" for r in res if not r[0]][:2]
    print(f"{task:6s} {right}/{len(res)} = {100 * right / len(res):.1f}%  {toks} completion tokens in {dt:.1f} s "
          f"({toks / dt:.0f} tok/s)  wrong e.g. {wrong}", flush=True)
print(f"all    {total_right}/{total}")
