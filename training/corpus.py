"""Extracts plain English text from Debian packages into training/.corpus/ (git-ignored).

Run here (not on the GPU machine, which has no Debian packages installed):

    apt-get install -y bible-kjv fortunes fortunes-min
    python3 training/corpus.py

Writes .corpus/kjv.txt (the King James Bible, one verse per line, verse numbers removed) and
.corpus/fortunes.txt (fortune cookies, separated by lines holding only '%'). Pure standard library.
"""
import os
import re
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, ".corpus")
FORTUNE_DIR = "/usr/share/games/fortunes"
# fortune files that are mostly prose (ascii-art, off/ and the like are skipped)
FORTUNE_FILES = [
    "computers", "cookie", "definitions", "education", "food", "fortunes", "goedel", "humorists", "kids",
    "law", "linux", "literature", "love", "magic", "medicine", "men-women", "miscellaneous", "news",
    "paradoxum", "people", "knghtbrd", "riddles", "debian", "perl", "pets", "platitudes", "politics", "pratchett", "riddles", "science", "songs-poems",
    "sports", "startrek", "tao", "translate-me", "wisdom", "work", "zippy", "drugs", "ethnic", "disclaimer",
]


def kjv() -> list[str]:
    text = subprocess.run(["bible", "Gen1:1-Rev22:21"], capture_output=True, text=True, check=True).stdout
    verses, cur = [], []
    for line in text.splitlines():
        m = re.match(r"^\s+\d+ (.*)$", line)
        if m:
            if cur:
                verses.append(" ".join(cur))
            cur = [m.group(1).strip()]
        elif not line.strip() or re.match(r"^[1-3]?\s?[A-Z][A-Za-z ]+ \d+$", line):
            if cur:
                verses.append(" ".join(cur))
            cur = []
        else:
            cur.append(line.strip())
    if cur:
        verses.append(" ".join(cur))
    return [v for v in verses if v]


def fortunes() -> list[str]:
    out = []
    for name in sorted(set(FORTUNE_FILES)):
        path = os.path.join(FORTUNE_DIR, name)
        if not os.path.isfile(path):
            continue
        with open(path, encoding="utf-8", errors="replace") as f:
            chunks = f.read().split("\n%\n")
        for c in chunks:
            c = c.strip("\n%").rstrip()
            c = re.sub(r"\t+", "    ", c)
            if not c or "\x1b" in c or len(c) > 1500:
                continue
            # mostly-ASCII prose only
            if sum(ch.isascii() for ch in c) < 0.98 * len(c):
                continue
            out.append(c.replace("\r", ""))
    return out


def main() -> int:
    os.makedirs(OUT, exist_ok=True)
    v = kjv()
    with open(os.path.join(OUT, "kjv.txt"), "w", encoding="utf-8") as f:
        f.write("\n".join(v) + "\n")
    fo = fortunes()
    with open(os.path.join(OUT, "fortunes.txt"), "w", encoding="utf-8") as f:
        f.write("\n%\n".join(fo) + "\n")
    print(f"kjv: {len(v)} verses; fortunes: {len(fo)} entries -> {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
