"""Asks a running r1-silo the 20 held-out 3-digit additions (tests/R1Orleans.ModelAccuracy.Tests/heldout.json) through
the OpenAI-compatible API, greedy, all at once, as HeldOutQuestionsTests does on the CPU: right = the answer in
`content` exactly, with reasoning in `reasoning_content`. Standard library only (the GPU machine has no network).
  python3 heldout.py --url http://127.0.0.1:PORT --questions heldout.json --pid SILO_PID --label cuda:0 [--expect FILE]
Waits for /health (the model loads), prints one line per question, writes the answers to --save, compares them with
--expect (the CPU silo's) when given. Exit 0 when at least 18 of 20 are right (and all equal the expected answers)."""
import argparse, json, os, sys, time, urllib.request, urllib.error
from concurrent.futures import ThreadPoolExecutor

p = argparse.ArgumentParser()
p.add_argument("--url", required=True)
p.add_argument("--questions", required=True)
p.add_argument("--pid", type=int, required=True)
p.add_argument("--label", required=True)
p.add_argument("--save")
p.add_argument("--expect")
a = p.parse_args()

deadline = time.time() + 120
while True:
    try:
        os.kill(a.pid, 0)
    except OSError:
        sys.exit(f"{a.label}: the silo (pid {a.pid}) exited before it was ready")
    try:
        with urllib.request.urlopen(a.url + "/health", timeout=5) as r:
            if r.status == 200:
                break
    except (urllib.error.URLError, ConnectionError, OSError):
        pass
    if time.time() > deadline:
        sys.exit(f"{a.label}: /health did not answer 200 within 120 s")
    time.sleep(0.5)
ready = time.time()

questions = json.load(open(a.questions))


def ask(q):
    body = json.dumps({"model": "r1orleans-tiny", "messages": [{"role": "user", "content": q["question"]}],
                       "temperature": 0, "max_tokens": 200}).encode()
    req = urllib.request.Request(a.url + "/v1/chat/completions", body, {"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=120) as r:
        m = json.load(r)["choices"][0]["message"]
    return (m.get("content") or "").strip(), (m.get("reasoning_content") or "").strip()


start = time.time()
with ThreadPoolExecutor(len(questions)) as pool:
    answers = list(pool.map(ask, questions))
seconds = time.time() - start
expected = json.load(open(a.expect)) if a.expect else None
right = same = 0
for i, (q, (content, reasoning)) in enumerate(zip(questions, answers)):
    ok = content == q["answer"] and len(reasoning) > 0
    right += ok
    match = expected is None or expected[i] == [content, reasoning]
    same += match
    print(f"{a.label} {'ok ' if ok else 'BAD'} {q['question']} -> {content} (expected {q['answer']}; reasoning {len(reasoning)} chars)"
          + ("" if match else " DIFFERS from the CPU silo"))
if a.save:
    json.dump([list(x) for x in answers], open(a.save, "w"))
print(f"{a.label}: {right}/{len(questions)} right in {seconds:.2f} s (20 requests at once, after {ready - deadline + 120:.1f} s of load)"
      + (f"; {same}/{len(questions)} answers and reasoning identical to the CPU silo's" if expected else ""))
sys.exit(0 if right >= 18 and same == len(questions) else 1)
