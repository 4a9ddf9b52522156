"""CPU check of model.py and export.py without a GPU, transformers or tokenizers: a randomly initialised model
(the real configuration, or --tiny) is exported to FP8, reloaded, and its float64 outputs (logits, routing, greedy,
MTP logits) are written as a golden case, which the C# engine must then pass:

    python3 training/selfcheck.py /tmp/selfcheck
    dotnet run -c Release --project client/R1Orleans.Client -- golden /tmp/selfcheck
"""
from __future__ import annotations

import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import export  # noqa: E402
from model import Config, DeepseekV3ForCausalLM, export_state_dict  # noqa: E402
from verify import reference_outputs  # noqa: E402


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else "/tmp/selfcheck"
    torch.manual_seed(0)
    cfg = Config()
    model = DeepseekV3ForCausalLM(cfg)
    with torch.no_grad():  # livelier weights than a fresh init, and a non-zero bias
        for n, p in model.named_parameters():
            if p.dim() == 2:
                p.normal_(0, 0.15 if "gate.weight" in n else 0.06)
            else:
                p.uniform_(0.8, 1.2)
        for _, m in model.moe_layers():
            m.gate.e_score_correction_bias.uniform_(-0.05, 0.05)
    sizes = export.write_checkpoint(out, export_state_dict(model), cfg)
    print("shards", sizes, {f: os.path.getsize(os.path.join(out, f)) for f in sizes})
    state = export.load_dequantized(out)
    ref = model.double().eval()
    export.load_into(ref, state)
    g, prompts = {}, []
    rng = np.random.default_rng(1)
    for i, T in enumerate([7, 33, 90]):
        ids = [0] + rng.integers(3, 4000, T - 1).tolist()
        o = reference_outputs(ref, ids, 12)
        print(f"prompt {i}: argmax gap {o['argmax_gap']:.4f} route gap {o['route_gap']:.2e}")
        g[f"prompt_{i}"] = np.asarray(ids, dtype=np.int64)
        g[f"logits_{i}"] = o["logits"].float().numpy()
        g[f"greedy_{i}"] = np.asarray(o["greedy"], dtype=np.int64)
        g[f"mtp_logits_{i}"] = o["mtp"].float().numpy()
        for li, (rid, rw) in o["routes"].items():
            if li >= cfg.num_hidden_layers:
                continue
            order = rid.argsort(-1)
            g[f"topk_{i}_layer{li}"] = rid.gather(1, order).numpy().astype(np.int64)
            g[f"topkw_{i}_layer{li}"] = rw.gather(1, order).float().numpy()
    export.write_safetensors(os.path.join(out, "golden.safetensors"),
                             {k: ("I64" if v.dtype == np.int64 else "F32", list(v.shape), v) for k, v in g.items()})
    with open(os.path.join(out, "golden.json"), "w") as f:
        json.dump({"seed": 0, "reference": "training/model.py float64 (selfcheck)"}, f)
    print("wrote", out)


if __name__ == "__main__":
    main()
