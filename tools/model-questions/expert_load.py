"""Each MoE layer's expert load (max/mean routed tokens) of a running silo on a mixed workload, from its /metrics.

usage: python3 tools/model-questions/expert_load.py URL QUESTIONS.json [--n N] [--concurrency C]
The workload: the first N held-out questions of every task in QUESTIONS.json (make_questions.py) as chat requests, and
the fixed English openings below as plain completions, all greedy. The load is the difference of the silo's
r1orleans:expert_tokens_total counters before and after, so earlier traffic does not count. Start the silo with
`--gate-bias false` to measure routing without the trained e_score_correction_bias. Standard library only.
"""
import argparse
import json
import re
import time
import urllib.request
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor

MAX_NEW = {"add3": 200, "add": 260, "sub": 300, "mul": 760, "cmp": 160, "count": 200, "sort": 330}
ENGLISH = [
    "In the beginning God created the heaven and the earth.",
    "And the earth was without form, and void; and darkness was upon the face of the deep.",
    "The LORD is my shepherd; I shall not want.",
    "To every thing there is a season, and a time to every purpose under the heaven:",
    "A soft answer turneth away wrath: but grievous words stir up anger.",
    "Blessed are the meek: for they shall inherit the earth.",
    "He that is slow to anger is better than the mighty;",
    "Go to the ant, thou sluggard; consider her ways, and be wise:",
    "A man who has never made a mistake",
    "The best way to predict the future",
    "Never put off till tomorrow what",
    "You will be successful in your work",
]
# Labels in any order (OpenTelemetry's exporter sorts them by name: expert, layer, model_name).
SERIES = re.compile(r'^r1orleans:expert_tokens_total\{([^}]*)\} (\S+)$')
LABEL = re.compile(r'(\w+)="([^"]*)"')

ap = argparse.ArgumentParser()
ap.add_argument("url")
ap.add_argument("questions")
ap.add_argument("--n", type=int, default=100)
ap.add_argument("--concurrency", type=int, default=16)
args = ap.parse_args()
base = args.url.rstrip("/")
with urllib.request.urlopen(base + "/v1/models") as r:
    model = json.load(r)["data"][0]["id"]


def counters():
    with urllib.request.urlopen(base + "/metrics") as r:
        text = r.read().decode()
    c = {}
    for line in text.splitlines():
        m = SERIES.match(line)
        if m:
            labels = dict(LABEL.findall(m.group(1)))
            c[(int(labels["layer"]), int(labels["expert"]))] = int(float(m.group(2)))
    return c


def post(path, body):
    req = urllib.request.Request(base + path, json.dumps(body).encode(), {"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=600) as r:
        return json.load(r)["usage"]


def ask(q):
    return post("/v1/chat/completions", {"model": model, "messages": [{"role": "user", "content": q["question"]}],
                                         "temperature": 0, "max_tokens": MAX_NEW[q["task"]]})


def cont(text):
    return post("/v1/completions", {"model": model, "prompt": text, "temperature": 0, "max_tokens": 64})


rows = json.load(open(args.questions, encoding="utf-8"))
per_task = defaultdict(list)
for r in rows:
    if len(per_task[r["task"]]) < args.n:
        per_task[r["task"]].append(r)
questions = [q for qs in per_task.values() for q in qs]
before = counters()
t0 = time.time()
with ThreadPoolExecutor(args.concurrency) as ex:
    usage = list(ex.map(ask, questions)) + list(ex.map(cont, ENGLISH))
dt = time.time() - t0
after = counters()
prompt = sum(u["prompt_tokens"] for u in usage)
completion = sum(u["completion_tokens"] for u in usage)
print(f"model {model}: {len(questions)} chat questions ({', '.join(f'{t} {len(q)}' for t, q in per_task.items())}) "
      f"+ {len(ENGLISH)} English completions, {prompt} prompt + {completion} completion tokens in {dt:.1f} s")
layers = sorted({layer for layer, _ in after})
print("layer  routed tokens  max/mean  min/mean  per-expert share of the layer's tokens (%)")
for layer in layers:
    experts = sorted(e for l, e in after if l == layer)
    load = [after[(layer, e)] - before.get((layer, e), 0) for e in experts]
    total = sum(load)
    if total == 0:
        print(f"{layer:5d}  0 (no traffic: the MTP layer runs only with --speculative-mtp)")
        continue
    mean = total / len(load)
    shares = " ".join(f"{100 * v / total:.1f}" for v in load)
    print(f"{layer:5d}  {total:13d}  {max(load) / mean:8.2f}  {min(load) / mean:8.2f}  {shares}")
