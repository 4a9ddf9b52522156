"""Training data: synthetic reasoning conversations made here, plus plain English from Debian packages.

Conversations are rendered with R1's chat template (assets/tokenizer_config.json, the same Jinja that transformers
runs, with add_generation_prompt=True so the prompt ends in "<｜Assistant｜><think>\\n"); the completion the model
learns is "reasoning\\n</think>\\n\\nanswer<｜end▁of▁sentence｜>", which is what it emits when served.

Tasks: addition, subtraction, multiplication (column methods, digit by digit), comparisons, counting a letter in a
word, sorting a short list. Each question has a canonical key (e.g. "add:47:385"); a question is held out when a
hash of its key falls in HELDOUT_PERCENT of the hash space. Training samples reject held-out keys, evaluation
samples accept only held-out keys, so no held-out question is ever trained on, by construction.

Plain text: King James Bible verses and fortune cookies, extracted by corpus.py into .corpus/.
"""
from __future__ import annotations

import hashlib
import json
import os
import random
import re
from dataclasses import dataclass

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, ".corpus")
ASSETS = os.path.join(HERE, "assets")

BOS = "<｜begin▁of▁sentence｜>"
EOS = "<｜end▁of▁sentence｜>"
HELDOUT_PERCENT = 5

TASKS = ["add", "sub", "mul", "cmp", "count", "sort"]
# evaluation tasks: add3 is 3-digit + 3-digit addition, the headline figure
EVAL_TASKS = ["add3", "add", "sub", "mul", "cmp", "count", "sort"]
TRAIN_WEIGHTS = {"add": 0.27, "sub": 0.17, "mul": 0.20, "cmp": 0.10, "count": 0.12, "sort": 0.14}

PLACES = ["ones", "tens", "hundreds", "thousands", "ten-thousands", "hundred-thousands", "millions"]


def is_heldout(key: str) -> bool:
    h = int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "little")
    return h % 100 < HELDOUT_PERCENT


# ---------------------------------------------------------------- chat template

_TEMPLATE = None


def chat_template():
    global _TEMPLATE
    if _TEMPLATE is None:
        from jinja2.sandbox import ImmutableSandboxedEnvironment

        with open(os.path.join(ASSETS, "tokenizer_config.json"), encoding="utf-8") as f:
            cfg = json.load(f)
        env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
        _TEMPLATE = (env.from_string(cfg["chat_template"]), cfg["bos_token"])
    return _TEMPLATE


def render(messages: list[dict], add_generation_prompt: bool = True) -> str:
    tpl, bos = chat_template()
    return tpl.render(messages=messages, add_generation_prompt=add_generation_prompt, bos_token=bos)


def completion_text(reasoning: str, answer: str) -> str:
    return reasoning + "\n</think>\n\n" + answer + EOS


# ---------------------------------------------------------------- numbers

def rand_digits(rng: random.Random, d: int) -> int:
    return rng.randint(0, 9) if d == 1 else rng.randint(10 ** (d - 1), 10 ** d - 1)


def digits_of(n: int, width: int) -> list[int]:
    s = str(n).rjust(width, "0")
    return [int(c) for c in s]


def add_trace(a: int, b: int, lines: list[str], what: str = "sum") -> int:
    w = max(len(str(a)), len(str(b)))
    da, db = digits_of(a, w), digits_of(b, w)
    lines.append(f"Write them with the same number of digits: {str(a).rjust(w, '0')} and {str(b).rjust(w, '0')}.")
    carry, out = 0, []
    for i in range(w):
        x, y = da[w - 1 - i], db[w - 1 - i]
        s = x + y + carry
        expr = f"{x} + {y}" + (f" + {carry}" if carry else "")
        place = PLACES[i].capitalize()
        lines.append(f"{place}: {expr} = {s}. Write {s % 10}, carry {s // 10}.")
        out.append(s % 10)
        carry = s // 10
    if carry:
        lines.append(f"The final carry {carry} gives the {PLACES[w]} digit.")
        out.append(carry)
    ds = ", ".join(str(d) for d in reversed(out))
    lines.append(f"The digits from the top are {ds}, so the {what} is {a + b}.")
    return a + b


def sub_trace(a: int, b: int, lines: list[str]) -> int:
    """a >= b >= 0."""
    w = len(str(a))
    da, db = digits_of(a, w), digits_of(b, w)
    lines.append(f"Write them with the same number of digits: {str(a).rjust(w, '0')} and {str(b).rjust(w, '0')}.")
    borrow, out = 0, []
    for i in range(w):
        x, y = da[w - 1 - i], db[w - 1 - i]
        expr = f"{x} - {y}" + (f" - {borrow}" if borrow else "")
        place = PLACES[i].capitalize()
        v = x - y - borrow
        if v < 0:
            lines.append(f"{place}: {expr} is negative, so borrow: 1{x} - {y}" + (f" - {borrow}" if borrow else "")
                         + f" = {v + 10}. Write {v + 10}, borrow 1.")
            out.append(v + 10)
            borrow = 1
        else:
            lines.append(f"{place}: {expr} = {v}. Write {v}, borrow 0.")
            out.append(v)
            borrow = 0
    ds = ", ".join(str(d) for d in reversed(out))
    lines.append(f"The digits from the top are {ds}, so the difference is {a - b}.")
    return a - b


def mul1_trace(a: int, d: int, lines: list[str]) -> int:
    """a times one digit d."""
    da = [int(c) for c in str(a)]
    carry, out = 0, []
    for i, x in enumerate(reversed(da)):
        p = x * d + carry
        expr = f"{x} × {d}" + (f" + {carry}" if carry else "")
        lines.append(f"{expr} = {p}. Write {p % 10}, carry {p // 10}.")
        out.append(p % 10)
        carry = p // 10
    if carry:
        lines.append(f"The final carry {carry} is the leading digit.")
        out.append(carry)
    ds = ", ".join(str(x) for x in reversed(out))
    lines.append(f"The digits from the top are {ds}, so {a} × {d} = {a * d}.")
    return a * d


# ---------------------------------------------------------------- tasks

@dataclass
class Example:
    task: str
    key: str
    question: str
    reasoning: str
    answer: str


def gen_add(rng: random.Random, three: bool = False) -> Example:
    if three:
        a, b = rand_digits(rng, 3), rand_digits(rng, 3)
    else:
        da = rng.choices([1, 2, 3, 4], weights=[1, 3, 5, 3])[0]
        db = rng.choices([1, 2, 3, 4], weights=[1, 3, 5, 3])[0]
        a, b = rand_digits(rng, da), rand_digits(rng, db)
    q = rng.choice([
        "What is {a} + {b}?", "What is {a}+{b}?", "Compute {a} + {b}.", "What is {a} plus {b}?",
        "Add {a} and {b}.", "What is the sum of {a} and {b}?", "{a} + {b} = ?", "Calculate {a} plus {b}.",
        "What do you get when you add {a} to {b}?", "Please add {a} and {b}.",
    ]).format(a=a, b=b)
    lines = [f"I need to add {a} and {b}."]
    s = add_trace(a, b, lines)
    lines.append(f"So {a} + {b} = {s}.")
    return Example("add", f"add:{a}:{b}", q, "\n".join(lines), f"{a} + {b} = {s}.")


def gen_sub(rng: random.Random) -> Example:
    da = rng.choices([1, 2, 3, 4], weights=[1, 3, 5, 3])[0]
    db = rng.choices([1, 2, 3, 4], weights=[1, 3, 5, 3])[0]
    a, b = rand_digits(rng, da), rand_digits(rng, db)
    if rng.random() < 0.75 and a < b:
        a, b = b, a
    q = rng.choice([
        "What is {a} - {b}?", "What is {a}-{b}?", "Compute {a} - {b}.", "What is {a} minus {b}?",
        "Subtract {b} from {a}.", "What is {a} take away {b}?", "{a} - {b} = ?", "Calculate {a} minus {b}.",
        "What do you get when you subtract {b} from {a}?",
    ]).format(a=a, b=b)
    lines = [f"I need to compute {a} - {b}."]
    if a >= b:
        d = sub_trace(a, b, lines)
    else:
        lines.append(f"{a} is less than {b}, so the result is negative: compute {b} - {a} and put a minus sign in front.")
        d = -sub_trace(b, a, lines)
    lines.append(f"So {a} - {b} = {d}.")
    return Example("sub", f"sub:{a}:{b}", q, "\n".join(lines), f"{a} - {b} = {d}.")


def gen_mul(rng: random.Random) -> Example:
    da = rng.choices([1, 2, 3], weights=[1, 3, 3])[0]
    db = rng.choices([1, 2], weights=[2, 3])[0]
    a, b = rand_digits(rng, da), rand_digits(rng, db)
    if rng.random() < 0.3:
        a, b = b, a
    sym = rng.choice(["×", "*", "x"])
    q = rng.choice([
        "What is {a} {s} {b}?", "Compute {a} {s} {b}.", "What is {a} times {b}?", "Multiply {a} by {b}.",
        "What is {a} multiplied by {b}?", "What is the product of {a} and {b}?", "{a} {s} {b} = ?",
        "Calculate {a} times {b}.",
    ]).format(a=a, b=b, s=sym)
    lines = [f"I need to multiply {a} by {b}."]
    bd = [int(c) for c in str(b)]
    if len(bd) == 1:
        p = mul1_trace(a, b, lines)
    else:
        lines.append(f"Split {b} into its digits and multiply {a} by each one.")
        parts = []
        for i, d in enumerate(reversed(bd)):
            shift = 10 ** i
            lines.append(f"{a} × {d}:")
            v = mul1_trace(a, d, lines)
            if shift > 1:
                lines.append(f"Shift by {i} place{'s' if i > 1 else ''}: {a} × {d * shift} = {v * shift}.")
            parts.append(v * shift)
        lines.append(f"Now add the parts: {parts[0]} + {parts[1]}.")
        p = add_trace(parts[0], parts[1], lines)
        for extra in parts[2:]:
            lines.append(f"Now add {p} + {extra}.")
            p = add_trace(p, extra, lines)
    lines.append(f"So {a} × {b} = {p}.")
    return Example("mul", f"mul:{a}:{b}", q, "\n".join(lines), f"{a} × {b} = {p}.")


def gen_cmp(rng: random.Random) -> Example:
    d = rng.choices([1, 2, 3, 4], weights=[1, 3, 4, 3])[0]
    a = rand_digits(rng, d)
    r = rng.random()
    if r < 0.45:  # same length, shared prefix
        s = list(str(a))
        k = rng.randrange(len(s))
        s[k] = str(rng.randint(1 if k == 0 and len(s) > 1 else 0, 9))
        b = int("".join(s))
    elif r < 0.55:
        b = a
    elif r < 0.75:  # digits swapped
        b = int(str(a)[::-1]) if str(a)[-1] != "0" else a + 1
    else:
        b = rand_digits(rng, rng.choice([1, 2, 3, 4]))
    kind = rng.choice(["larger", "smaller", "greater?", "less?"])
    if kind == "larger":
        q = rng.choice(["Which is larger, {a} or {b}?", "Which is bigger: {a} or {b}?",
                        "Which number is greater, {a} or {b}?", "What is the larger of {a} and {b}?"])
    elif kind == "smaller":
        q = rng.choice(["Which is smaller, {a} or {b}?", "Which is less: {a} or {b}?",
                        "Which number is smaller, {a} or {b}?", "What is the smaller of {a} and {b}?"])
    elif kind == "greater?":
        q = rng.choice(["Is {a} greater than {b}?", "Is {a} > {b}?", "Is {a} bigger than {b}?"])
    else:
        q = rng.choice(["Is {a} less than {b}?", "Is {a} < {b}?", "Is {a} smaller than {b}?"])
    q = q.format(a=a, b=b)
    la, lb = len(str(a)), len(str(b))
    lines = [f"Compare {a} and {b}."]
    lines.append(f"{a} has {la} digit{'s' if la > 1 else ''} and {b} has {lb} digit{'s' if lb > 1 else ''}.")
    if la != lb:
        big, small = (a, b) if la > lb else (b, a)
        lines.append(f"More digits means a larger number, so {big} is greater than {small}.")
    else:
        lines.append("They have the same number of digits, so compare from the left.")
        sa, sb = str(a), str(b)
        big = small = None
        for i in range(la):
            place = PLACES[la - 1 - i].capitalize()
            if sa[i] == sb[i]:
                lines.append(f"{place}: {sa[i]} and {sb[i]} are equal.")
            else:
                big, small = (a, b) if sa[i] > sb[i] else (b, a)
                x, y = (sa[i], sb[i]) if sa[i] > sb[i] else (sb[i], sa[i])
                lines.append(f"{place}: {x} is greater than {y}, so {big} is greater than {small}.")
                break
        if big is None:
            lines.append(f"Every digit is the same, so the numbers are equal.")
    if a == b:
        ans = {"larger": f"They are equal: both are {a}.", "smaller": f"They are equal: both are {a}.",
               "greater?": f"No, {a} is equal to {b}.", "less?": f"No, {a} is equal to {b}."}[kind]
    else:
        big, small = max(a, b), min(a, b)
        if kind == "larger":
            ans = f"{big} is larger."
        elif kind == "smaller":
            ans = f"{small} is smaller."
        elif kind == "greater?":
            ans = f"Yes, {a} is greater than {b}." if a > b else f"No, {a} is less than {b}."
        else:
            ans = f"Yes, {a} is less than {b}." if a < b else f"No, {a} is greater than {b}."
    return Example("cmp", f"cmp:{kind}:{a}:{b}", q, "\n".join(lines), ans)


_WORDS: list[str] | None = None


def words() -> list[str]:
    global _WORDS
    if _WORDS is None:
        counts: dict[str, int] = {}
        for name in ("kjv.txt", "fortunes.txt"):
            path = os.path.join(CORPUS, name)
            if os.path.exists(path):
                with open(path, encoding="utf-8") as f:
                    for w in re.findall(r"[a-z]+", f.read()):
                        if 3 <= len(w) <= 12:
                            counts[w] = counts.get(w, 0) + 1
        ws = sorted(w for w, c in counts.items() if c >= 2)
        if not ws:  # no corpus: a small built-in list keeps the generator usable
            ws = ["strawberry", "banana", "letter", "mississippi", "bookkeeper", "committee", "balloon",
                  "assessment", "parallel", "occurrence", "coffee", "pepper", "success", "address"]
        _WORDS = ws
    return _WORDS


def gen_count(rng: random.Random) -> Example:
    w = rng.choice(words())
    if rng.random() < 0.75:
        c = rng.choice(w)
    else:
        c = rng.choice([x for x in "abcdefghijklmnopqrstuvwxyz" if x not in w] or ["z"])
    q = rng.choice([
        'How many times does the letter "{c}" appear in "{w}"?', "How many {c}'s are in the word {w}?",
        'Count the letter {c} in the word "{w}".', 'How many times does {c} occur in {w}?',
        'In the word "{w}", how many times does the letter {c} appear?', "How many {c}s are there in {w}?",
    ]).format(c=c, w=w)
    lines = [f'Spell "{w}" one letter at a time and count the {c}\'s.']
    n = 0
    for ch in w:
        if ch == c:
            n += 1
            lines.append(f"{ch} - yes, {n}")
        else:
            lines.append(f"{ch} - no, {n}")
    lines.append(f'So "{c}" appears {n} time{"" if n == 1 else "s"} in "{w}".')
    ans = f'The letter "{c}" appears {n} time{"" if n == 1 else "s"} in "{w}".'
    return Example("count", f"count:{w}:{c}", q, "\n".join(lines), ans)


def gen_sort(rng: random.Random) -> Example:
    n = rng.randint(3, 6)
    hi = rng.choice([99, 99, 999])
    xs = rng.sample(range(0, hi + 1), n)
    desc = rng.random() < 0.35
    lst = ", ".join(map(str, xs))
    if desc:
        q = rng.choice(["Sort these numbers in descending order: {l}.", "Order from largest to smallest: {l}.",
                        "Sort {l} from largest to smallest.", "Put these numbers in decreasing order: {l}."])
    else:
        q = rng.choice(["Sort these numbers in ascending order: {l}.", "Order from smallest to largest: {l}.",
                        "Sort {l} from smallest to largest.", "Put these numbers in increasing order: {l}.",
                        "Sort the list {l}."])
    q = q.format(l=lst)
    word = "largest" if desc else "smallest"
    lines = [f"The numbers are {lst}.", f"Take the {word} one each time."]
    left = list(xs)
    out = []
    while len(left) > 1:
        v = max(left) if desc else min(left)
        left.remove(v)
        out.append(v)
        lines.append(f"The {word} of the rest is {v}. Left: {', '.join(map(str, left))}.")
    out.append(left[0])
    lines.append(f"The last one is {left[0]}.")
    res = ", ".join(map(str, out))
    lines.append(f"So the sorted list is {res}.")
    return Example("sort", f"sort:{'d' if desc else 'a'}:{','.join(map(str, xs))}", q, "\n".join(lines), res)


GENERATORS = {
    "add": gen_add, "add3": lambda r: gen_add(r, three=True), "sub": gen_sub, "mul": gen_mul,
    "cmp": gen_cmp, "count": gen_count, "sort": gen_sort,
}


def sample(rng: random.Random, task: str, heldout: bool) -> Example:
    """A question of a task from the training side (heldout=False) or the held-out side (heldout=True)."""
    for _ in range(100000):
        ex = GENERATORS[task](rng)
        if is_heldout(ex.key) == heldout:
            return ex
    raise RuntimeError(f"no {'held-out' if heldout else 'training'} question for {task}")


SYSTEM_PROMPTS = ["You are a helpful assistant.", "You are a careful assistant who reasons step by step.",
                  "Answer the question."]


def chat_example(rng: random.Random) -> tuple[str, str, str]:
    """(task, prompt text, completion text) of one training conversation."""
    task = rng.choices(list(TRAIN_WEIGHTS), weights=list(TRAIN_WEIGHTS.values()))[0]
    ex = sample(rng, task, heldout=False)
    msgs = []
    r = rng.random()
    if r < 0.05:
        msgs.append({"role": "system", "content": rng.choice(SYSTEM_PROMPTS)})
    if rng.random() < 0.10:  # an earlier turn: the template keeps only its answer
        prev = sample(rng, rng.choice(TASKS), heldout=False)
        msgs.append({"role": "user", "content": prev.question})
        msgs.append({"role": "assistant", "content": "<think>\n" + prev.reasoning + "\n</think>\n\n" + prev.answer})
    msgs.append({"role": "user", "content": ex.question})
    return task, render(msgs, True), completion_text(ex.reasoning, ex.answer)


def eval_set(task: str, n: int, seed: int = 1234) -> list[Example]:
    """n distinct held-out questions of a task (seeded)."""
    rng = random.Random(f"eval:{task}:{seed}")
    seen, out = set(), []
    while len(out) < n:
        ex = sample(rng, task, heldout=True)
        if ex.key not in seen:
            seen.add(ex.key)
            out.append(ex)
    return out


# ---------------------------------------------------------------- plain text

def text_documents(rng: random.Random, n: int) -> list[str]:
    """n plain-text documents: runs of consecutive KJV verses, or one to three fortunes."""
    kjv_path, fort_path = os.path.join(CORPUS, "kjv.txt"), os.path.join(CORPUS, "fortunes.txt")
    if not (os.path.exists(kjv_path) and os.path.exists(fort_path)):
        raise FileNotFoundError(f"{CORPUS} has no kjv.txt/fortunes.txt: run training/corpus.py here and carry training/.corpus")
    with open(kjv_path, encoding="utf-8") as f:
        verses = f.read().splitlines()
    with open(fort_path, encoding="utf-8") as f:
        fortunes = [x.strip("\n") for x in f.read().split("\n%\n") if x.strip()]
    docs = []
    for _ in range(n):
        if rng.random() < 0.55:
            i = rng.randrange(len(verses))
            k = rng.randint(2, 10)
            docs.append(" ".join(verses[i:i + k]))
        else:
            docs.append("\n\n".join(rng.choice(fortunes) for _ in range(rng.randint(1, 3))))
    return docs


def tokenizer_training_text(seed: int = 0, n_chat: int = 30000):
    """Text for training the BPE: the English corpus plus rendered conversations, special tokens removed."""
    rng = random.Random(f"bpe:{seed}")
    for name in ("kjv.txt", "fortunes.txt"):
        with open(os.path.join(CORPUS, name), encoding="utf-8") as f:
            yield from f.read().split("\n")
    special = re.compile(r"<｜[^｜]*｜>|</?think>")
    for _ in range(n_chat):
        _, p, c = chat_example(rng)
        yield special.sub("\n", p + c)


# ---------------------------------------------------------------- token streams and packing

def _chat_chunk(args):
    seed, chunk, n = args
    rng = random.Random(f"chat:{seed}:{chunk}")
    return [chat_example(rng) for _ in range(n)]


def build_documents(tok, n_chat: int, n_text: int, seed: int, workers: int = 8):
    """Tokenized documents: list of (ids, first_target) where tokens ids[first_target:] are loss targets."""
    import multiprocessing as mp

    chunk = 5000
    jobs = [(seed, i, min(chunk, n_chat - i * chunk)) for i in range((n_chat + chunk - 1) // chunk)]
    if workers > 1 and len(jobs) > 1:
        with mp.get_context("fork").Pool(workers) as pool:
            parts = pool.map(_chat_chunk, jobs)
    else:
        parts = [_chat_chunk(j) for j in jobs]
    chats = [x for p in parts for x in p]
    prompts = [p for _, p, _ in chats]
    fulls = [p + c for _, p, c in chats]
    enc_p = tok.encode_batch(prompts, add_special_tokens=False)
    enc_f = tok.encode_batch(fulls, add_special_tokens=False)
    docs = []
    for ep, ef in zip(enc_p, enc_f):
        p, f = ep.ids, ef.ids
        if f[:len(p)] != p:
            raise ValueError("prompt tokens are not a prefix of the conversation's tokens")
        docs.append((f, len(p)))
    texts = text_documents(random.Random(f"text:{seed}"), n_text)
    enc_t = tok.encode_batch([BOS + t + EOS for t in texts], add_special_tokens=False)
    for e in enc_t:
        docs.append((e.ids, 1))
    return docs, len(chats)


def pack(docs, seq_len: int, seed: int, window: int = 16):
    """Packs documents into rows of seq_len, first fit over the last `window` open rows (a document never straddles
    rows; longer ones are cut).

    Returns numpy arrays: tokens [N,S] int32, doc [N,S] int32 (document number within the row; padding gets a
    number of its own), pos [N,S] int32 (position within the document), tgt [N,S] uint8 (1 where the token is a
    loss target, 0 for other tokens, 2 for padding)."""
    import numpy as np

    rng = random.Random(f"pack:{seed}")
    order = list(range(len(docs)))
    rng.shuffle(order)
    place = []          # (row, offset, doc number) per document in `order`
    fill, ndocs = [], []
    open_rows = []
    for i in order:
        n = min(len(docs[i][0]), seq_len)
        row = next((r for r in open_rows if fill[r] + n <= seq_len), None)
        if row is None:
            row = len(fill)
            fill.append(0)
            ndocs.append(0)
            open_rows.append(row)
            if len(open_rows) > window:
                open_rows.pop(0)
        place.append((row, fill[row], ndocs[row]))
        fill[row] += n
        ndocs[row] += 1
    N = len(fill)
    toks = np.full((N, seq_len), 1, dtype=np.int32)
    doc = np.repeat(np.asarray(ndocs, dtype=np.int32)[:, None], seq_len, 1)
    ar = np.arange(seq_len, dtype=np.int32)
    pos = (ar[None, :] - np.asarray(fill, dtype=np.int32)[:, None]).clip(min=0)
    tgt = np.full((N, seq_len), 2, dtype=np.uint8)
    for i, (row, off, k) in zip(order, place):
        ids, first = docs[i]
        n = min(len(ids), seq_len)
        toks[row, off:off + n] = ids[:n]
        doc[row, off:off + n] = k
        pos[row, off:off + n] = ar[:n]
        tgt[row, off:off + n] = 1
        tgt[row, off:off + min(first, n)] = 0
    return toks, doc, pos, tgt


if __name__ == "__main__":
    rng = random.Random(0)
    for t in EVAL_TASKS:
        ex = GENERATORS[t](rng)
        print(f"--- {t} [{ex.key}] heldout={is_heldout(ex.key)}\n{ex.question}\n{ex.reasoning}\n=> {ex.answer}\n")
    task, p, c = chat_example(random.Random(5))
    print(repr(p + c))
