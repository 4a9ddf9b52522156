"""The output cost of online gate-bias balancing (silo --online-bias), measured through a running silo's OpenAI API.

usage: python3 tools/model-questions/online_bias.py URL QUESTIONS.json [--drive N] [--drive-concurrency C] [--n N]
                                                    [--save ANSWERS.json] [--expect FROZEN_ANSWERS.json]
1. Drive: N greedy completions of the same three English openings (a skewed load: a few experts run hot), in two
   halves; each half's expert imbalance per MoE layer (max/mean routed tokens) from the silo's
   r1orleans:expert_tokens_total counters, and the silo's r1orleans:gate_bias_* series after the drive.
2. Questions: the first N held-out questions of every task in QUESTIONS.json (make_questions.py), greedy, as chat
   requests: accuracy per task (content equals the answer, reasoning non-empty, as measure.py scores), the imbalance
   of this mixed phase, and, with --expect (a frozen-bias run's --save), agreement: the same answer, and the same
   answer and reasoning token for token. Run it once against a silo without --online-bias (--save), then against one
   with it (--expect). Standard library only.
"""
import argparse
import json
import re
import time
import urllib.request
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor

MAX_NEW = {"add3": 200, "add": 260, "sub": 300, "mul": 760, "cmp": 160, "count": 200, "sort": 330}
DRIVE = [
    "In the beginning God created the heaven and the earth.",
    "The LORD is my shepherd; I shall not want.",
    "A soft answer turneth away wrath: but grievous words stir up anger.",
]
SERIES = re.compile(r'^(r1orleans:[a-z_]+)\{([^}]*)\} (\S+)$')
LABEL = re.compile(r'(\w+)="([^"]*)"')

ap = argparse.ArgumentParser()
ap.add_argument("url")
ap.add_argument("questions")
ap.add_argument("--drive", type=int, default=600)
ap.add_argument("--drive-concurrency", type=int, default=8)
ap.add_argument("--n", type=int, default=100)
ap.add_argument("--concurrency", type=int, default=32)
ap.add_argument("--save")
ap.add_argument("--expect")
args = ap.parse_args()
base = args.url.rstrip("/")
with urllib.request.urlopen(base + "/v1/models") as r:
    model = json.load(r)["data"][0]["id"]


def scrape():
    with urllib.request.urlopen(base + "/metrics") as r:
        text = r.read().decode()
    out = defaultdict(dict)
    for line in text.splitlines():
        m = SERIES.match(line)
        if m:
            labels = dict(LABEL.findall(m.group(2)))
            key = (int(labels["layer"]), int(labels["expert"])) if "expert" in labels else int(labels.get("layer", -1))
            out[m.group(1)][key] = float(m.group(3))
    return out


def imbalance(before, after):
    c0, c1 = before["r1orleans:expert_tokens_total"], after["r1orleans:expert_tokens_total"]
    layers = sorted({layer for layer, _ in c1})
    result = {}
    for layer in layers:
        load = [c1[(layer, e)] - c0.get((layer, e), 0) for (l, e) in sorted(c1) if l == layer]
        if sum(load) > 0:
            result[layer] = max(load) / (sum(load) / len(load))
    return result


def post(path, body):
    req = urllib.request.Request(base + path, json.dumps(body).encode(), {"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=600) as r:
        return json.load(r)


def drive(i):
    return post("/v1/completions", {"model": model, "prompt": DRIVE[i % len(DRIVE)], "temperature": 0, "max_tokens": 64,
                                     "ignore_eos": True})["usage"]["completion_tokens"]


def ask(q):
    m = post("/v1/chat/completions", {"model": model, "messages": [{"role": "user", "content": q["question"]}],
                                      "temperature": 0, "max_tokens": MAX_NEW[q["task"]]})["choices"][0]["message"]
    return (m.get("content") or "").strip(), (m.get("reasoning_content") or "").strip()


def fmt(d):
    return " ".join(f"L{k}={v:.3f}" for k, v in sorted(d.items()))


print(f"model {model}; drive: {args.drive} completions of {len(DRIVE)} openings (64 tokens each), {args.drive_concurrency} in flight")
m0 = scrape()
t0 = time.time()
with ThreadPoolExecutor(args.drive_concurrency) as ex:
    list(ex.map(drive, range(args.drive // 2)))
m1 = scrape()
with ThreadPoolExecutor(args.drive_concurrency) as ex:
    list(ex.map(drive, range(args.drive // 2, args.drive)))
m2 = scrape()
print(f"drive took {time.time() - t0:.1f} s")
print(f"drive imbalance, 1st half: {fmt(imbalance(m0, m1))}")
print(f"drive imbalance, 2nd half: {fmt(imbalance(m1, m2))}")
for name in ("gate_bias_version", "gate_bias_windows_total"):
    if f"r1orleans:{name}" in m2:
        print(f"{name}: {int(next(iter(m2['r1orleans:' + name].values())))}")
for name in ("gate_bias_drift", "gate_bias_imbalance_before", "gate_bias_imbalance_after"):
    if f"r1orleans:{name}" in m2:
        print(f"{name} after the drive: {fmt(m2['r1orleans:' + name])}")

rows = json.load(open(args.questions, encoding="utf-8"))
per_task = defaultdict(list)
for r in rows:
    if len(per_task[r["task"]]) < args.n:
        per_task[r["task"]].append(r)
questions = [q for qs in per_task.values() for q in qs]
t0 = time.time()
with ThreadPoolExecutor(args.concurrency) as ex:
    answers = list(ex.map(ask, questions))
m3 = scrape()
print(f"questions: {len(questions)} in {time.time() - t0:.1f} s, {args.concurrency} in flight; imbalance: {fmt(imbalance(m2, m3))}")
for name in ("gate_bias_version", "gate_bias_drift"):
    if f"r1orleans:{name}" in m3:
        print(f"{name} after the questions: {fmt(m3['r1orleans:' + name]) if name.endswith('drift') else int(next(iter(m3['r1orleans:' + name].values())))}")
expected = json.load(open(args.expect)) if args.expect else None
right = same_answer = same_text = 0
for task, qs in per_task.items():
    t_right = t_same = t_text = 0
    for q in qs:
        content, reasoning = answers[questions.index(q)]
        t_right += content == q["answer"] and reasoning != ""
        if expected:
            e = expected[q["key"]]
            t_same += content == e[0]
            t_text += [content, reasoning] == e
    right += t_right
    same_answer += t_same
    same_text += t_text
    agree = f"; same answer as frozen {t_same}/{len(qs)}, same answer and reasoning {t_text}/{len(qs)}" if expected else ""
    print(f"{task:6s} right {t_right}/{len(qs)}{agree}")
agree = (f"; same answer as frozen {same_answer}/{len(questions)}, same answer and reasoning {same_text}/{len(questions)}"
         if expected else "")
print(f"all    right {right}/{len(questions)}{agree}")
if args.save:
    json.dump({q["key"]: list(a) for q, a in zip(questions, answers)}, open(args.save, "w"))
