"""Writes held-out questions of the shipped model's tasks, exactly as training/data.py generates them.

usage: python3 tools/model-questions/make_questions.py N OUT.json [task ...]
Each task's questions are data.eval_set(task, N) (seed 1234): the first N of the held-out questions that training/
evaluate.py scored in training/README.md. No held-out question was ever trained on (data.is_heldout).
"""
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "training"))
import data  # noqa: E402

n = int(sys.argv[1])
out = sys.argv[2]
tasks = sys.argv[3:] or data.EVAL_TASKS
rows = []
for task in tasks:
    for ex in data.eval_set(task, n):
        assert data.is_heldout(ex.key)
        rows.append({"task": task, "key": ex.key, "question": ex.question, "answer": ex.answer})
with open(out, "w", encoding="utf-8") as f:
    json.dump(rows, f, ensure_ascii=False, indent=1)
    f.write("\n")
print(f"{len(rows)} questions -> {out}")
