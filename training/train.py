"""One command: tokenizer -> data -> training -> FP8 export -> exactness proof and golden case -> held-out accuracy.

    bash training/run_device.sh        # on one H100: ~8 minutes (training itself stops at 400 s)

Fixed seeds. Training uses bf16 autocast; the loss is next-token cross-entropy on assistant turns and plain text,
plus lambda * the MTP module's cross-entropy for token t+2 (DeepSeek-V3's MTP loss). Auxiliary-loss-free balancing:
after each step every MoE layer's e_score_correction_bias moves by gamma * sign(mean load - load_i).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import random
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import data  # noqa: E402
from model import Config, DeepseekV3ForCausalLM, doc_mask  # noqa: E402


MIRROR = []  # more files that every log line also goes to (the outbox copy)


def log(msg, fh=None):
    line = f"[{time.strftime('%H:%M:%S')}] {msg}"
    print(line, flush=True)
    for f in ([fh] if fh else []) + MIRROR:
        f.write(line + "\n")
        f.flush()


def param_groups(model, wd):
    decay, no = [], []
    seen = set()
    for n, p in model.named_parameters():
        if id(p) in seen:
            continue
        seen.add(id(p))
        (decay if p.dim() == 2 and "embed" not in n else no).append(p)
    return [{"params": decay, "weight_decay": wd}, {"params": no, "weight_decay": 0.0}]


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "out", "r1orleans-tiny"))
    ap.add_argument("--work", default=None, help="scratch folder (tokenizer, logs); default OUT/../work")
    ap.add_argument("--seed", type=int, default=1234)
    ap.add_argument("--steps", type=int, default=6400)
    ap.add_argument("--train-seconds", type=float, default=400.0, help="stop training early past this (wall clock)")
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--seq", type=int, default=1024)
    ap.add_argument("--lr", type=float, default=2.5e-3)
    ap.add_argument("--warmup", type=int, default=200)
    ap.add_argument("--wd", type=float, default=0.1)
    ap.add_argument("--mtp-lambda", type=float, default=0.3)
    ap.add_argument("--bias-gamma", type=float, default=1e-3)
    ap.add_argument("--n-chat", type=int, default=300000)
    ap.add_argument("--n-text", type=int, default=40000)
    ap.add_argument("--bpe-chats", type=int, default=30000)
    ap.add_argument("--eval-n", type=int, default=500)
    ap.add_argument("--workers", type=int, default=14)
    ap.add_argument("--compile", action="store_true")
    ap.add_argument("--outbox", default=None, help="also put the log and, right after export, checkpoint.tgz here")
    ap.add_argument("--skip-verify", action="store_true")
    ap.add_argument("--skip-eval", action="store_true")
    ap.add_argument("--tiny", action="store_true", help="a very small model, for a CPU check of the pipeline")
    args = ap.parse_args(argv)

    t_start = time.time()
    random.seed(args.seed)
    np.random.seed(args.seed)
    torch.manual_seed(args.seed)
    dev = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if dev.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    out_dir = os.path.abspath(args.out)
    work = os.path.abspath(args.work or os.path.join(os.path.dirname(out_dir), "work"))
    os.makedirs(work, exist_ok=True)
    os.makedirs(out_dir, exist_ok=True)
    fh = open(os.path.join(work, "train_log.txt"), "w")
    if args.outbox:
        os.makedirs(args.outbox, exist_ok=True)
        MIRROR.append(open(os.path.join(args.outbox, "train_log.txt"), "w"))
    log(f"device {dev} {torch.cuda.get_device_name() if dev.type == 'cuda' else ''} torch {torch.__version__}", fh)

    # ---- tokenizer
    from tokenizer import train_tokenizer

    tok_dir = os.path.join(work, "tokenizer")
    tok, n_tokens = train_tokenizer(tok_dir, seed=args.seed, n_chat=args.bpe_chats)
    log(f"tokenizer: {n_tokens} tokens ({time.time() - t_start:.0f}s)", fh)

    # ---- data
    t0 = time.time()
    docs, n_chat = data.build_documents(tok, args.n_chat, args.n_text, args.seed, workers=args.workers)
    toks, doc, pos, tgt = data.pack(docs, args.seq, args.seed)
    n_tgt = int((tgt == 1).sum())
    chat_tokens = sum(len(d[0]) for d in docs[:n_chat])
    text_tokens = sum(len(d[0]) for d in docs[n_chat:])
    log(f"data: {n_chat} conversations ({chat_tokens} tokens), {len(docs) - n_chat} text documents ({text_tokens} tokens)"
        f" -> {toks.shape[0]} rows of {args.seq}, {n_tgt} target tokens, fill {(tgt != 2).mean():.3f} ({time.time() - t0:.0f}s)", fh)
    T = torch.from_numpy(toks).long().to(dev)
    D = torch.from_numpy(doc).to(dev)
    P = torch.from_numpy(pos).long().to(dev)
    W = torch.from_numpy(tgt).to(dev)

    # ---- model
    cfg = Config()
    if args.tiny:
        cfg = Config(hidden_size=64, intermediate_size=96, moe_intermediate_size=32, num_hidden_layers=3,
                     q_lora_rank=48, kv_lora_rank=32, qk_nope_head_dim=16, qk_rope_head_dim=8, v_head_dim=16,
                     num_attention_heads=2)
    assert n_tokens <= cfg.vocab_size
    model = DeepseekV3ForCausalLM(cfg).to(dev)
    n_params = sum(p.numel() for p in {id(p): p for p in model.parameters()}.values())
    log(f"model: {n_params / 1e6:.2f}M parameters; config {json.dumps(cfg.to_dict())}", fh)
    opt = torch.optim.AdamW(param_groups(model, args.wd), lr=args.lr, betas=(0.9, 0.95), eps=1e-8,
                            **({"fused": True} if dev.type == "cuda" else {}))
    fwd = torch.compile(model) if args.compile else model
    moe = model.moe_layers()
    E = cfg.n_routed_experts
    load_hist = {i: [] for i, _ in moe}

    def lr_at(step):
        if step < args.warmup:
            return args.lr * (step + 1) / args.warmup
        p = min(1.0, (step - args.warmup) / max(1, args.steps - args.warmup))
        return args.lr * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * p)))

    g = torch.Generator(device="cpu").manual_seed(args.seed)
    perm = torch.randperm(T.shape[0], generator=g)
    cursor = 0
    t_train = time.time()
    model.train()
    step = 0
    tokens_seen = 0
    stats = []
    for step in range(args.steps):
        if cursor + args.batch > len(perm):
            perm = torch.randperm(T.shape[0], generator=g)
            cursor = 0
        idx = perm[cursor:cursor + args.batch].to(dev)
        cursor += args.batch
        x, d, p, w = T[idx], D[idx], P[idx], W[idx]
        mask = doc_mask(d)
        for group in opt.param_groups:
            group["lr"] = lr_at(step)
        with torch.autocast(device_type=dev.type, dtype=torch.bfloat16, enabled=dev.type == "cuda"):
            logits, mtp_logits, _ = fwd(x, p, mask, mtp=True)
        V = logits.shape[-1]
        same1 = d[:, 1:] == d[:, :-1]
        m1 = (w[:, 1:] == 1) & same1
        ce = F.cross_entropy(logits[:, :-1].float().reshape(-1, V), x[:, 1:].reshape(-1), reduction="none")
        loss_main = (ce * m1.reshape(-1)).sum() / m1.sum().clamp(min=1)
        same2 = d[:, 2:] == d[:, :-2]
        m2 = (w[:, 2:] == 1) & same2
        ce2 = F.cross_entropy(mtp_logits[:, :-1].float().reshape(-1, V), x[:, 2:].reshape(-1), reduction="none")
        loss_mtp = (ce2 * m2.reshape(-1)).sum() / m2.sum().clamp(min=1)
        loss = loss_main + args.mtp_lambda * loss_mtp
        opt.zero_grad(set_to_none=True)
        loss.backward()
        gn = torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        # aux-loss-free balancing on real (non-padding) tokens
        real = (w != 2)
        with torch.no_grad():
            loads = []
            for li, m in moe:
                ids = m.last_ids
                rows = ids.shape[0]
                r = real.reshape(-1) if rows == real.numel() else real[:, :-1].reshape(-1)
                load = torch.bincount(ids[r].reshape(-1), minlength=E).float()
                m.gate.e_score_correction_bias += args.bias_gamma * torch.sign(load.mean() - load)
                m.gate.e_score_correction_bias -= m.gate.e_score_correction_bias.mean()  # routing is shift-invariant
                loads.append(load)
        tokens_seen += int(real.sum())
        if step % 100 == 0 or step == args.steps - 1:
            el = time.time() - t_train
            lr = lr_at(step)
            ratios = {li: round(float(l.max() / l.mean()), 3) for (li, _), l in zip(moe, loads)}
            for li, r_ in ratios.items():
                load_hist[li].append((step, r_))
            rec = {"step": step, "loss": round(loss_main.item(), 4), "mtp_loss": round(loss_mtp.item(), 4),
                   "lr": round(lr, 6), "grad_norm": round(float(gn), 3), "tok_per_s": round(tokens_seen / max(el, 1e-9)),
                   "elapsed_s": round(el, 1), "load_max_over_mean": ratios,
                   "bias_absmax": {li: round(float(m.gate.e_score_correction_bias.abs().max()), 4) for li, m in moe}}
            stats.append(rec)
            log(json.dumps(rec), fh)
        if time.time() - t_train > args.train_seconds:
            log(f"stopping at step {step}: past {args.train_seconds}s", fh)
            break
    train_s = time.time() - t_train
    log(f"trained {step + 1} steps in {train_s:.0f}s, {tokens_seen} tokens", fh)
    with open(os.path.join(work, "train_stats.json"), "w") as f:
        json.dump({"steps": step + 1, "train_seconds": train_s, "tokens": tokens_seen, "log": stats,
                   "args": vars(args), "config": cfg.to_dict(), "n_params": n_params}, f)

    # ---- export
    import export

    model.eval()
    card = model_card(cfg, step + 1, train_s, tokens_seen, n_params, stats)
    sizes = export.export(model, out_dir, tok_dir, card)
    log(f"export: {json.dumps(sizes)}", fh)
    assert sizes["total_bytes"] <= 12_000_000 and max(sizes["files"].values()) <= 8_000_000, sizes
    if args.outbox:  # the checkpoint leaves now, whatever happens later
        import tarfile

        with tarfile.open(os.path.join(args.outbox, "checkpoint.tgz"), "w:gz") as tf:
            tf.add(out_dir, arcname=os.path.basename(out_dir))

    # ---- the model as exported: dequantized weights
    state64 = export.load_dequantized(out_dir)
    export.load_into(model, state64)

    result = {"train": {"steps": step + 1, "seconds": round(train_s), "tokens": tokens_seen,
                        "final_loss": stats[-1]["loss"], "final_mtp_loss": stats[-1]["mtp_loss"],
                        "load_max_over_mean_final": stats[-1]["load_max_over_mean"]}, "export": sizes}
    if not args.skip_verify:
        import verify

        try:
            result["verify"] = verify.run(out_dir, model, tok, work, log=lambda m: log(m, fh))
        except Exception as e:  # keep going: the checkpoint is already written
            import traceback

            log("verify FAILED: " + traceback.format_exc(), fh)
            result["verify"] = {"error": repr(e)}
    if not args.skip_eval:
        import evaluate

        model.float()
        torch.backends.cuda.matmul.allow_tf32 = False
        result["eval"] = evaluate.run(model, tok, args.eval_n, work, log=lambda m: log(m, fh))
    if not args.skip_verify:
        result["verify_extras"] = verify.extras(out_dir, tok, work, log=lambda m: log(m, fh))
    result["total_seconds"] = round(time.time() - t_start)
    with open(os.path.join(work, "result.json"), "w") as f:
        json.dump(result, f, indent=2)
    log(json.dumps(result), fh)
    return result


def model_card(cfg, steps, secs, tokens, n_params, stats) -> str:
    return f"""---
license: mit
library_name: transformers
tags: [deepseek_v3, moe, mla, mtp, fp8, reasoning, tiny]
---
# r1orleans-tiny

A {n_params / 1e6:.1f}M-parameter model with DeepSeek-V3's architecture, trained from scratch by R1Orleans'
`training/train.py` in one run of {secs / 60:.1f} minutes on one H100 ({steps} steps, {tokens / 1e6:.0f}M tokens).
It is R1Orleans' built-in model: small enough to ship in the repository, and trained, so that its text, routing, expert
loads and MTP acceptance are those of a real model.

**Architecture** (config.json, `model_type` deepseek_v3): hidden {cfg.hidden_size}, {cfg.num_hidden_layers} layers
(layer 0 dense MLP {cfg.intermediate_size} wide; layers {cfg.first_k_dense_replace}-{cfg.num_hidden_layers - 1} MoE),
MLA with q LoRA (q_lora_rank {cfg.q_lora_rank}, kv_lora_rank {cfg.kv_lora_rank}, {cfg.num_attention_heads} heads of
nope {cfg.qk_nope_head_dim} + rope {cfg.qk_rope_head_dim}, v {cfg.v_head_dim}), interleaved RoPE with YaRN
(factor {cfg.rope_scaling['factor']}, original {cfg.rope_scaling['original_max_position_embeddings']}); MoE with
{cfg.n_routed_experts} routed experts ({cfg.moe_intermediate_size} wide) + {cfg.n_shared_experts} shared, top-{cfg.num_experts_per_tok},
{cfg.n_group} groups of which {cfg.topk_group} are kept, sigmoid `noaux_tc` gate with a trained
`e_score_correction_bias` (auxiliary-loss-free balancing) and routed_scaling_factor {cfg.routed_scaling_factor};
one MTP layer (model.layers.{cfg.num_hidden_layers}) trained with the MTP loss (lambda 0.3). The MTP layer shares
the main model's embedding and output head (DeepSeek-V3 does too); the checkpoint does not repeat them, and readers
fall back to `model.embed_tokens` and `lm_head`.

**Weights**: linear layers FP8 e4m3 with 128x128 block scales (`weight_scale_inv`), norms, embeddings, lm_head,
gate and eh_proj BF16, e_score_correction_bias F32, in two safetensors shards with an index.

**Tokenizer**: byte-level BPE (4,000 + 13 added tokens) trained on the data below, with DeepSeek-V3's pre-tokenizer
and special tokens and R1's chat template (the generation prompt ends in `<｜Assistant｜><think>\\n`). Every digit is
one token.

**Data**: synthetic conversations (multi-digit addition, subtraction, multiplication, comparisons, counting a letter in
a word, sorting short lists; asked in words or symbols; the assistant reasons step by step inside `<think>` and then
answers), and English text: the King James Bible and fortune cookies (Debian packages `bible-kjv`, `fortunes`).
5% of all possible questions (by a hash of the question) are held out and never trained on.

**Limits**: a toy. It reasons in the trained formats only, continues English text in the style of its two books, and
knows nothing else.
"""


if __name__ == "__main__":
    main()
