"""Proof that the export is exact, and the golden case of the exported model.

1. The reference: training/model.py in float64 holding the weights the checkpoint defines (FP8 codes x block scales,
   BF16 tensors, F32 bias; export.load_dequantized), on the CPU.
2. transformers' DeepseekV3ForCausalLM: the FP8 checkpoint dequantized into a float64 safetensors directory (same
   config less quantization_config; the MTP layer left out, as transformers has none), loaded with from_pretrained
   (float64, eager attention), on the CPU. Its logits and routing are compared with the reference.
3. The golden case, in the format of the project's golden cases: prompt_i, logits_i, greedy_i (KV-cached greedy by
   transformers), topk_i_layer{l}/topkw_i_layer{l} (routing by transformers, sorted by expert id), mtp_logits_i
   (training model, float64), for prompts whose greedy argmax gap and routing gaps are all comfortably wide.
4. Also tried: transformers loading the FP8 directory itself on the GPU (its fp8 quantizer), compared loosely.
5. A tokenizer golden case (encodings by `tokenizers`, chat renderings by transformers' chat template).
"""
from __future__ import annotations

import copy
import json
import os
import shutil
import time

import numpy as np
import torch

import data
import export

GREEDY = 16
ARGMAX_GAP, ROUTE_GAP = 1e-2, 1e-4          # what a chosen prompt must clear
ARGMAX_GAP_MIN, ROUTE_GAP_MIN = 1e-3, 3e-5  # the project's floor, if too few clear the first

CANDIDATES = [
    ("chat", "What is 47 + 385?"),
    ("text", "In the beginning God created the heaven and the earth. And the earth was"),
    ("chat", 'How many times does the letter "r" appear in "strawberry"?'),
    ("chat", "Which is larger, 385 or 358?"),
    ("chat", "What is 23 × 47?"),
    ("chat", "Sort these numbers in ascending order: 42, 7, 19, 88."),
    ("chat", "What is 512 - 87?"),
    ("text", "A bug in the code is worth"),
    ("chat", "What is 628 plus 194?"),
    ("text", "And God said, Let there be light"),
    ("chat", "Is 731 less than 713?"),
    ("chat", "Compute 90 + 15."),
    ("text", "The secret of success is"),
    ("chat", "What is 305 + 296?"),
    ("chat", "How many s's are in the word mississippi?"),
]


def prompt_ids(tok, kind, text):
    if kind == "chat":
        return tok.encode(data.render([{"role": "user", "content": text}]), add_special_tokens=False).ids
    return tok.encode(text, add_special_tokens=True).ids  # BOS + text


def route_gaps(choice: torch.Tensor, c) -> float:
    """Smallest margin of a routing decision: the topk_group-th group score over the next, and the k-th allowed
    choice score over the next allowed one (and over 0, where transformers' mask fills 0.0 instead of -inf)."""
    T, E = choice.shape
    g = choice.view(T, c.n_group, E // c.n_group).topk(2, dim=-1).values.sum(-1)
    gs = g.sort(dim=-1, descending=True).values
    gaps = []
    if c.topk_group < c.n_group:
        gaps.append((gs[:, c.topk_group - 1] - gs[:, c.topk_group]).min())
    keep = g.topk(c.topk_group, dim=-1).indices
    mask = torch.zeros_like(g, dtype=torch.bool).scatter_(1, keep, True)
    emask = mask.unsqueeze(-1).expand(T, c.n_group, E // c.n_group).reshape(T, E)
    allowed = choice.masked_fill(~emask, float("-inf")).sort(dim=-1, descending=True).values
    kth, nxt = allowed[:, c.num_experts_per_tok - 1], allowed[:, c.num_experts_per_tok]
    gaps.append((kth - nxt).min())
    gaps.append(kth.min())  # versus a masked expert's 0.0 in transformers
    return float(torch.stack(gaps).min())


@torch.no_grad()
def reference_outputs(ref, ids: list[int], greedy: int):
    """float64 logits, MTP logits, routing of every MoE layer, greedy tokens, argmax and routing margins."""
    c = ref.config
    x = torch.tensor([ids])
    T = len(ids)
    pos = torch.arange(T)[None]
    mask = torch.ones(T, T, dtype=torch.bool).tril()[None, None]
    routes = {}
    logits, mtp_logits, _ = ref(x, pos, mask, mtp=True)
    gap_route = float("inf")
    for li, m in ref.moe_layers():
        routes[li] = (m.last_ids.clone(), m.last_weights.clone())
    # routing margins over prompt + greedy continuation, MTP layer included
    gen = ref.generate([ids], greedy, eos=-1)[0]
    full = torch.tensor([ids + gen])
    F_ = full.shape[1]
    choice_by_layer = {}

    def grab(li, m):
        def hook(mod, inp, out):
            xin = inp[0].reshape(-1, c.hidden_size)
            s = mod.gate.scores(xin)
            choice_by_layer[li] = s + mod.gate.e_score_correction_bias.to(s.dtype)
        return m.register_forward_hook(hook)

    hs = [grab(li, m) for li, m in ref.moe_layers()]
    lf, _, _ = ref(full, torch.arange(F_)[None], torch.ones(F_, F_, dtype=torch.bool).tril()[None, None], mtp=True)
    for h in hs:
        h.remove()
    for li, ch in choice_by_layer.items():
        gap_route = min(gap_route, route_gaps(ch, c))
    steps = lf[0, T - 1:T - 1 + greedy]
    top2 = steps.topk(2, dim=-1).values
    gap_arg = float((top2[:, 0] - top2[:, 1]).min())
    assert steps.argmax(-1).tolist() == gen, "cached greedy differs from full-recompute argmax"
    return {"logits": logits[0], "mtp": mtp_logits[0], "routes": routes, "greedy": gen,
            "argmax_gap": gap_arg, "route_gap": gap_route}


def write_hf64(out_dir: str, hf_dir: str, state64: dict, c):
    os.makedirs(hf_dir, exist_ok=True)
    L = c.num_hidden_layers
    t = {k: ("F64", list(v.shape), v.numpy()) for k, v in state64.items() if not k.startswith(f"model.layers.{L}.")}
    export.write_safetensors(os.path.join(hf_dir, "model.safetensors"), t, {"format": "pt"})
    cfg = export.hf_config(c, torch_dtype="float64", fp8=False)
    cfg["num_nextn_predict_layers"] = 0
    with open(os.path.join(hf_dir, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)


def load_hf(path: str, dtype, eager_experts: bool = False, **kw):
    """DeepseekV3ForCausalLM.from_pretrained; with eager_experts, transformers' plain per-expert loop instead of its
    grouped_mm kernel (which takes no float64)."""
    from transformers import DeepseekV3ForCausalLM

    tries = [dict(dtype=dtype), dict(torch_dtype=dtype)]
    if eager_experts:
        tries = [dict(t, experts_implementation="eager") for t in tries] + tries
    err = None
    for t in tries:
        try:
            model, info = DeepseekV3ForCausalLM.from_pretrained(path, output_loading_info=True, **t, **kw)
            break
        except (TypeError, ValueError) as e:
            err = e
    else:
        raise err
    if eager_experts:
        for m in [model, *model.modules()]:
            cfg = getattr(m, "config", None)
            if cfg is not None and hasattr(cfg, "_experts_implementation"):
                cfg._experts_implementation = "eager"
    return model, info


class RouteRecorder:
    """Records transformers' routing (expert ids and combine weights) of each MoE layer in the last forward."""

    def __init__(self, hf):
        self.rec, self.handles, self.how = {}, [], {}
        for l, layer in enumerate(hf.model.layers):
            mlp = layer.mlp
            if not hasattr(mlp, "gate"):
                continue
            self.handles.append(mlp.gate.register_forward_hook(self._gate_hook(l)))
            ex = getattr(mlp, "experts", None)
            if ex is not None and type(ex).forward is not torch.nn.Module.forward:
                self.handles.append(ex.register_forward_pre_hook(self._exp_hook(l), with_kwargs=True))

    def _gate_hook(self, l):
        def f(mod, inp, out):
            self.rec.setdefault(l, {})["gate"] = (inp, out)
        return f

    def _exp_hook(self, l):
        def f(mod, args, kwargs):
            self.rec.setdefault(l, {})["experts"] = (args, kwargs)
        return f

    @staticmethod
    def _find(objs):
        flat = []

        def walk(o):
            if isinstance(o, torch.Tensor):
                flat.append(o)
            elif isinstance(o, (tuple, list)):
                for x in o:
                    walk(x)
            elif isinstance(o, dict):
                for x in o.values():
                    walk(x)
        walk(objs)
        ids = [t for t in flat if not t.is_floating_point() and t.dim() == 2]
        for i in ids:
            ws = [t for t in flat if t.is_floating_point() and t.shape == i.shape]
            if ws:
                return i, ws[0]
        return None

    def get(self, l, hf_gate=None, c=None):
        r = self.rec[l]
        found = self._find(r["gate"][1])
        if found is not None:
            self.how[l] = "gate output"
            return found
        if "experts" in r:
            found = self._find(r["experts"])
            if found is not None:
                self.how[l] = "experts input"
                return found
        raise RuntimeError(f"could not find transformers' routing of layer {l}")


def rel_err(a, b) -> float:
    a, b = a.double(), b.double()
    return float((a - b).abs().max() / b.abs().max())


def run(out_dir: str, model, tok, work: str, log=print) -> dict:
    import transformers

    t0 = time.time()
    c = model.config
    state64 = export.load_dequantized(out_dir)
    ref = copy.deepcopy(model).cpu().double().eval()
    export.load_into(ref, state64)
    assert ref.mtp.shared_head.head.weight is ref.lm_head.weight

    # 1. candidates through the reference
    cands = []
    for kind, text in CANDIDATES:
        ids = prompt_ids(tok, kind, text)
        o = reference_outputs(ref, ids, GREEDY)
        o.update(kind=kind, text=text, ids=ids)
        cands.append(o)
        log(f"candidate {kind} {text!r}: {len(ids)} tokens, argmax gap {o['argmax_gap']:.4f}, route gap {o['route_gap']:.2e},"
            f" greedy {tok.decode(o['greedy'], skip_special_tokens=False)!r}")

    def pick(ag, rg):
        return [o for o in cands if o["argmax_gap"] >= ag and o["route_gap"] >= rg]

    chosen = pick(ARGMAX_GAP, ROUTE_GAP)
    if len(chosen) < 3:
        chosen = pick(ARGMAX_GAP_MIN, ROUTE_GAP_MIN)
    if not chosen:
        raise RuntimeError("no candidate prompt clears the margins")
    # a mix: the first chat and text prompts and a long one
    chats = [o for o in chosen if o["kind"] == "chat"]
    texts = [o for o in chosen if o["kind"] == "text"]
    chosen = (chats[:2] + texts[:1] + chats[2:3]) if len(chats) >= 2 and texts else chosen[:3]

    # 2. transformers, float64
    hf_dir = os.path.join(work, "hf64")
    write_hf64(out_dir, hf_dir, state64, c)
    hf, info = load_hf(hf_dir, torch.float64, eager_experts=True, attn_implementation="eager")
    hf.eval()
    missing = [k for k in info.get("missing_keys", []) if "rotary" not in k]
    if missing or info.get("mismatched_keys"):
        raise RuntimeError(f"transformers: missing {missing[:8]}, mismatched {info.get('mismatched_keys')}")
    hsd = hf.state_dict()
    for li, _ in ref.moe_layers():
        k = f"model.layers.{li}.mlp.gate.e_score_correction_bias"
        if li < c.num_hidden_layers and k in hsd:
            assert torch.equal(hsd[k].double().cpu(), state64[k]), k
    rec = RouteRecorder(hf)
    report = {"transformers": transformers.__version__, "torch": torch.__version__, "prompts": []}
    golden = {}
    worst_logit = worst_w = 0.0
    kept = []
    for o in chosen:
        i = len(kept)
        ids = torch.tensor([o["ids"]])
        with torch.no_grad():
            out = hf(input_ids=ids, use_cache=False)
        lg = out.logits[0].double()
        e = rel_err(lg, o["logits"])
        worst_logit = max(worst_logit, e)
        routing = {}
        mism = 0
        for li, (rid, rw) in o["routes"].items():
            if li >= c.num_hidden_layers:
                continue
            hid, hw = rec.get(li)
            hid, hw = hid.reshape(-1, c.num_experts_per_tok).long(), hw.reshape(-1, c.num_experts_per_tok).double()
            order = hid.argsort(dim=-1)
            hid, hw = hid.gather(1, order), hw.gather(1, order)
            ro = rid.argsort(dim=-1)
            rid_s, rw_s = rid.gather(1, ro), rw.gather(1, ro)
            mism += int((hid != rid_s).any(-1).sum())
            worst_w = max(worst_w, float((hw - rw_s).abs().max()))
            routing[li] = (hid, hw)
        # KV-cached greedy by transformers
        with torch.no_grad():
            try:
                step = hf(input_ids=ids, use_cache=True)
                pkv = step.past_key_values
                g = [int(step.logits[0, -1].argmax())]
                for _ in range(GREEDY - 1):
                    step = hf(input_ids=torch.tensor([[g[-1]]]), past_key_values=pkv, use_cache=True)
                    pkv = step.past_key_values
                    g.append(int(step.logits[0, -1].argmax()))
                report.setdefault("greedy_by", "forward with past_key_values")
            except Exception as ex:  # noqa: BLE001
                log(f"cached forward loop failed ({ex!r}); using generate()")
                gen = hf.generate(ids, max_new_tokens=GREEDY, min_new_tokens=GREEDY, do_sample=False, use_cache=True)
                g = gen[0, ids.shape[1]:].tolist()
                report["greedy_by"] = "generate(do_sample=False)"
        if g != o["greedy"] or mism:
            log(f"REJECTED {o['text']!r}: transformers greedy {g} vs training model {o['greedy']}; {mism} routing differences")
            report.setdefault("rejected", []).append({"text": o["text"], "greedy_hf": g, "greedy_ref": o["greedy"],
                                                      "routing_mismatches": mism, "logit_rel_err": e})
            continue
        kept.append(o)
        golden[f"prompt_{i}"] = np.asarray(o["ids"], dtype=np.int64)
        golden[f"logits_{i}"] = lg.float().numpy()
        golden[f"greedy_{i}"] = np.asarray(g, dtype=np.int64)
        for li, (hid, hw) in routing.items():
            golden[f"topk_{i}_layer{li}"] = hid.numpy().astype(np.int64)
            golden[f"topkw_{i}_layer{li}"] = hw.float().numpy()
        golden[f"mtp_logits_{i}"] = o["mtp"].float().numpy()  # [T-1, V]: positions 0..T-2
        report["prompts"].append({"kind": o["kind"], "text": o["text"], "tokens": len(o["ids"]), "logit_rel_err": e,
                                  "greedy": tok.decode(g, skip_special_tokens=False),
                                  "argmax_gap": o["argmax_gap"], "route_gap": o["route_gap"]})
        log(f"golden prompt {i} ({o['kind']} {o['text']!r}): transformers vs training model logits {e:.2e}, routing equal,"
            f" greedy equal: {tok.decode(g, skip_special_tokens=False)!r}")
    if len(kept) < 2:
        raise RuntimeError(f"only {len(kept)} prompts agree between transformers and the training model")
    chosen = kept
    report["routing_source"] = rec.how
    report["experts_implementation"] = getattr(hf.config, "_experts_implementation", None)
    report["logit_rel_err_max"] = worst_logit
    report["routing_weight_err_max"] = worst_w
    gjson = {
        "seed": 1234, "fp8": True, "shards": len([f for f in os.listdir(out_dir) if f.startswith("model-")]),
        "mtp": True, "prompts": len(chosen), "prompt_texts": [[o["kind"], o["text"]] for o in chosen],
        "greedy_tokens": GREEDY,
        "reference": f"transformers {transformers.__version__} DeepseekV3ForCausalLM, float64 weights dequantized from the"
                     f" FP8 checkpoint, eager attention, CPU (logits, routing, KV-cached greedy); MTP logits from"
                     f" training/model.py in float64",
        "argmax_gap_min": min(o["argmax_gap"] for o in chosen),
        "route_gap_min": min(o["route_gap"] for o in chosen),
        "transformers_vs_training_logits_rel_err": worst_logit,
    }
    export.write_safetensors(os.path.join(out_dir, "golden.safetensors"),
                             {k: ("I64" if v.dtype == np.int64 else "F32", list(v.shape), v) for k, v in golden.items()},
                             {"format": "pt"})
    with open(os.path.join(out_dir, "golden.json"), "w") as f:
        json.dump(gjson, f, indent=2)
    report["golden"] = gjson
    log(f"golden case written: {len(chosen)} prompts; transformers vs training model logits max rel err {worst_logit:.2e}")
    del hf

    _LAST.update(ids=chosen[0]["ids"], logits=chosen[0]["logits"])
    report["seconds"] = round(time.time() - t0, 1)
    with open(os.path.join(work, "verify.json"), "w") as f:
        json.dump(report, f, indent=2, ensure_ascii=False)
    return report


_LAST = {}


def extras(out_dir: str, tok, work: str, log=print) -> dict:
    """transformers on the FP8 directory itself (GPU, its own fp8 quantizer), compared loosely with the float64
    reference; and the tokenizer golden case."""
    report = {}
    try:
        if torch.cuda.is_available() and _LAST:
            t1 = time.time()
            m8, info8 = load_hf(out_dir, "auto", device_map="cuda")
            ids = torch.tensor([_LAST["ids"]], device="cuda")
            with torch.no_grad():
                lg8 = m8(input_ids=ids).logits[0].double().cpu()
            e8 = rel_err(lg8, _LAST["logits"])
            report["fp8_from_pretrained"] = {
                "ok": True, "logit_rel_err_vs_reference": e8, "argmax_equal": bool((lg8.argmax(-1) == _LAST["logits"].argmax(-1)).all()),
                "param_dtypes": sorted({str(p.dtype) for p in m8.parameters()}),
                "missing": info8.get("missing_keys", [])[:5], "seconds": round(time.time() - t1, 1)}
            del m8
    except Exception as ex:  # noqa: BLE001
        report["fp8_from_pretrained"] = {"ok": False, "error": repr(ex)[:500]}
    log(f"transformers on the FP8 directory: {report.get('fp8_from_pretrained')}")
    try:
        report["tokenizer_case"] = tokenizer_case(out_dir, os.path.join(work, "tokenizer-case"), tok)
    except Exception as ex:  # noqa: BLE001
        report["tokenizer_case"] = {"error": repr(ex)[:500]}
    log(f"tokenizer case: {report['tokenizer_case']}")
    with open(os.path.join(work, "verify_extras.json"), "w") as f:
        json.dump(report, f, indent=2, ensure_ascii=False)
    return report


PROBES = [
    "", "Hello, world!", "What is 47 + 385?", "12345678901234567890", "3.14159 and -42, 1,000,000.",
    "In the beginning God created the heaven and the earth.", "  leading spaces\tand\ttabs\n\nnew lines  ",
    "<｜User｜>Hi<｜Assistant｜><think>\nhmm\n</think>\n\nHello<｜end▁of▁sentence｜>", "<think></think>",
    "<｜User", "Ünïcödé àccents, Ελληνικά, русский текст", "漢字とかなカナ", "emoji 🙂🚀 and symbols ©®™",
    "strawberry mississippi bookkeeper", "The letter \"r\" appears 3 times in \"strawberry\".",
    "x = [1, 2, 3]; print(sum(x))", "don't won't it's I'm you're", "A" * 40, "1 + 2 = 3\n4 × 5 = 20",
]


def tokenizer_case(model_dir: str, case_dir: str, tok) -> dict:
    """tokenizer.json, tokenizer_config.json and golden.json in the format of the project's tokenizer cases."""
    os.makedirs(case_dir, exist_ok=True)
    for f in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(os.path.join(model_dir, f), os.path.join(case_dir, f))
    enc = []
    for t in PROBES:
        e = tok.encode(t, add_special_tokens=False)
        enc.append({"text": t, "ids": e.ids, "ids_with_bos": tok.encode(t, add_special_tokens=True).ids,
                    "decoded": tok.decode(e.ids, skip_special_tokens=False),
                    "decoded_skip_special": tok.decode(e.ids, skip_special_tokens=True), "pieces": e.tokens})
    convs = [
        ([{"role": "user", "content": "What is 47 + 385?"}], True),
        ([{"role": "system", "content": "You are a helpful assistant."}, {"role": "user", "content": "Sort 3, 1, 2."}], True),
        ([{"role": "user", "content": "What is 2 + 2?"},
          {"role": "assistant", "content": "<think>\n2 + 2 = 4.\n</think>\n\n2 + 2 = 4."},
          {"role": "user", "content": "And 3 + 3?"}], True),
        ([{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}], False),
    ]
    how = "jinja2 (training/data.py)"
    render = lambda m, g: data.render(m, g)  # noqa: E731
    try:
        from transformers import PreTrainedTokenizerFast

        with open(os.path.join(model_dir, "tokenizer_config.json"), encoding="utf-8") as f:
            cfg = json.load(f)
        ht = PreTrainedTokenizerFast(tokenizer_file=os.path.join(model_dir, "tokenizer.json"),
                                     bos_token=cfg["bos_token"], eos_token=cfg["eos_token"])
        ht.chat_template = cfg["chat_template"]
        probe = ht.apply_chat_template(convs[0][0], tokenize=False, add_generation_prompt=True)
        if probe == data.render(convs[0][0], True):
            render = lambda m, g: ht.apply_chat_template(m, tokenize=False, add_generation_prompt=g)  # noqa: E731
            how = "transformers apply_chat_template"
    except Exception:  # noqa: BLE001
        pass
    chat = []
    for msgs, gen in convs:
        text = render(msgs, gen)
        assert text == data.render(msgs, gen), "transformers and training/data.py render the template differently"
        chat.append({"messages": msgs, "add_generation_prompt": gen, "text": text,
                     "ids": tok.encode(text, add_special_tokens=False).ids})
    import tokenizers

    with open(os.path.join(case_dir, "golden.json"), "w", encoding="utf-8") as f:
        json.dump({"encode": enc, "chat": chat, "reference": f"tokenizers {tokenizers.__version__}, chat by {how}"},
                  f, ensure_ascii=False, indent=1)
    return {"probes": len(enc), "chats": len(chat), "chat_renderer": how}


def main():
    """Verify an exported directory on its own: python3 training/verify.py DIR [--work W]."""
    import argparse
    import sys

    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from tokenizers import Tokenizer

    from model import Config, DeepseekV3ForCausalLM

    ap = argparse.ArgumentParser()
    ap.add_argument("dir")
    ap.add_argument("--work", default="/tmp/r1verify")
    a = ap.parse_args()
    os.makedirs(a.work, exist_ok=True)
    with open(os.path.join(a.dir, "config.json")) as f:
        cfg = Config.from_hf(json.load(f))
    model = DeepseekV3ForCausalLM(cfg)
    export.load_into(model, export.load_dequantized(a.dir))
    tok = Tokenizer.from_file(os.path.join(a.dir, "tokenizer.json"))
    r = run(a.dir, model.eval(), tok, a.work)
    r["extras"] = extras(a.dir, tok, a.work)
    print(json.dumps({k: v for k, v in r.items() if k != "prompts"}, indent=1, ensure_ascii=False)[:4000])


if __name__ == "__main__":
    main()
