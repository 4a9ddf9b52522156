"""Held-out accuracy per task, greedy, with the training model holding the exported (dequantized) weights.

A question is right when the text after </think> equals the expected answer exactly (e.g. "47 + 385 = 432.").
"""
from __future__ import annotations

import json
import os
import time

import torch

import data

MAX_NEW = {"add3": 200, "add": 260, "sub": 300, "mul": 760, "cmp": 160, "count": 200, "sort": 330}


def answer_of(text: str) -> tuple[str, bool]:
    """(content after </think>, whether the reasoning was closed)."""
    if "</think>" not in text:
        return "", False
    return text.split("</think>", 1)[1].strip(), True


def run(model, tok, n: int, work: str, log=print, batch: int = 500, tasks=None) -> dict:
    eos = tok.token_to_id(data.EOS)
    res = {}
    samples = {}
    for task in tasks or data.EVAL_TASKS:
        t0 = time.time()
        exs = data.eval_set(task, n)
        prompts = [tok.encode(data.render([{"role": "user", "content": e.question}]), add_special_tokens=False).ids
                   for e in exs]
        outs = []
        for i in range(0, len(prompts), batch):
            outs += model.generate(prompts[i:i + batch], MAX_NEW[task], eos)
        right = closed = 0
        wrong = []
        for e, o in zip(exs, outs):
            text = tok.decode([t for t in o if t != eos], skip_special_tokens=False)
            ans, ok = answer_of(text)
            closed += ok
            if ans == e.answer:
                right += 1
            elif len(wrong) < 5:
                wrong.append({"q": e.question, "expected": e.answer, "got": ans, "reasoning_tail": text[-300:]})
        res[task] = {"n": len(exs), "correct": right, "accuracy": right / len(exs), "think_closed": closed / len(exs),
                     "seconds": round(time.time() - t0, 1)}
        samples[task] = wrong
        log(f"eval {task}: {right}/{len(exs)} = {right / len(exs):.3f} (closed </think> {closed}/{len(exs)}, {time.time() - t0:.0f}s)")
    with open(os.path.join(work, "eval_wrong_samples.json"), "w") as f:
        json.dump(samples, f, indent=1, ensure_ascii=False)
    return res
