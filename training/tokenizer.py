"""Trains the byte-level BPE with Hugging Face `tokenizers` and writes tokenizer.json + tokenizer_config.json.

The result has DeepSeek-V3's pipeline exactly (assets/tokenizer_skeleton.json, copied from the project's golden
tokenizer case): pre-tokenizer = Split(\\p{N}{1,3}) -> Split(CJK/kana runs) -> Split(main regex) -> ByteLevel, all
"Isolated"; ByteLevel decoder; TemplateProcessing that prepends <｜begin▁of▁sentence｜>. Ids 0-2 are BOS, EOS and
pad; the chat and tool tokens (<｜User｜>, <｜Assistant｜>, <think>, </think>, tool-call tokens) follow the BPE
vocabulary as added tokens, as in the golden case. tokenizer_config.json is R1's (chat template whose generation
prompt ends in "<｜Assistant｜><think>\\n").

While training, digits are split one by one, so the vocabulary learns no merge of two digits: with DeepSeek's own
pre-tokenizer at run time every digit is then one token, which makes column arithmetic learnable by a small model.
"""
from __future__ import annotations

import json
import os
import shutil

from data import ASSETS, tokenizer_training_text

SPECIAL = ["<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>", "<｜▁pad▁｜>"]


def train_tokenizer(out_dir: str, vocab_size: int = 4000, seed: int = 0, n_chat: int = 30000):
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers

    with open(os.path.join(ASSETS, "tokenizer_skeleton.json"), encoding="utf-8") as f:
        skel = json.load(f)
    splits = skel["pre_tokenizer"]["pretokenizers"]
    cjk = splits[1]["pattern"]["Regex"]
    main = splits[2]["pattern"]["Regex"]
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(r"\p{N}"), behavior="isolated"),
        pre_tokenizers.Split(Regex(cjk), behavior="isolated"),
        pre_tokenizers.Split(Regex(main), behavior="isolated"),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, min_frequency=2, special_tokens=SPECIAL,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(tokenizer_training_text(seed, n_chat), trainer=trainer)

    j = json.loads(tok.to_str())
    vocab = j["model"]["vocab"]
    for i, s in enumerate(SPECIAL):
        assert vocab[s] == i, (s, vocab.get(s))
    for key in ("pre_tokenizer", "post_processor", "decoder", "normalizer", "truncation", "padding"):
        j[key] = skel[key]
    added = []
    n = len(vocab)
    for t in skel["added_tokens"]:
        t = dict(t)
        if t["content"] in SPECIAL:
            t["id"] = vocab[t["content"]]
        else:
            t["id"] = n
            n += 1
        added.append(t)
    j["added_tokens"] = added
    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, "tokenizer.json")
    with open(path, "w", encoding="utf-8") as f:
        json.dump(j, f, ensure_ascii=False, indent=2)
    shutil.copy(os.path.join(ASSETS, "tokenizer_config.json"), os.path.join(out_dir, "tokenizer_config.json"))
    t2 = Tokenizer.from_file(path)
    check(t2)
    return t2, n


def check(tok):
    ids = tok.encode("<｜User｜>What is 47 + 385?<｜Assistant｜><think>\n", add_special_tokens=False).ids
    assert ids[0] == tok.token_to_id("<｜User｜>") and tok.token_to_id("<think>") in ids, ids
    digits = tok.encode("1234567890", add_special_tokens=False).ids
    assert len(digits) == 10, f"digits are not single tokens: {digits}"
    assert tok.encode("hi", add_special_tokens=True).ids[0] == 0
    s = "Hello, world! 12 + 345 = 357.\n  Spaces and\ttabs."
    assert tok.decode(tok.encode(s, add_special_tokens=False).ids, skip_special_tokens=False) == s
