"""PyTorch's decode step of the reduced full-width model, for a same-run comparison with r1-gpucheck --forward's
reduced-model table: DeepSeek-V3's widths and vocabulary (hidden 7168, 128 heads, latent 512 + rope 64, vocab 129,280),
1 dense + 3 MoE layers of 256 routed experts (top-8 of 8 groups, noaux_tc) and a shared expert, random weights.

PyTorch's own ops only, in the form a PyTorch user would write them at these sizes:
  - routed experts FP8 e4m3 through torch._scaled_grouped_mm (rowwise scales; torch_moe.py's layer), the other
    linears, lm_head and the absorbed per-head projections BF16 (torch has no 128x128 block-scaled FP8 linear);
  - MLA absorbed for decode: q_nope . W_UK by bmm, scores against a contiguous [batch, ctx, 576] BF16 latent cache by
    bmm, softmax in float32, the weighted sum of latents by bmm, W_UV by bmm, o_proj;
  - RMSNorm in float32, RoPE on q_rope and the new k_rope (cos/sin of the position), the router in float32;
  - one step = embedding, 4 layers, final norm, lm_head, argmax, for batch 1 and 64 at context 56 (r1's table's).
Timed eagerly and as a CUDA graph (torch.cuda.CUDAGraph; the step has static shapes); CUDA-event medians. Floors are
r1's (same bytes); this reports milliseconds and tokens/s, and with --forward FILE (r1-gpucheck --forward's --out JSON of
the same run) r1's graph ms beside them.

usage: python3 tools/gpu/torch_reduced.py [--out FILE.json] [--forward forward.json]"""
import json, math, sys, traceback
import torch
from torch_timing import arg, timeit
import torch.nn.functional as F

torch.manual_seed(0)
dev = torch.device("cuda")
HID, VOCAB, HEADS, QLORA, KV, NOPE, ROPE, VD = 7168, 129280, 128, 1536, 512, 128, 64, 128
INTER, MOE_INTER, E, K, GROUPS, TOPK_GROUPS, SCALE_ROUTED = 18432, 2048, 256, 8, 8, 4, 2.5
LAYERS, DENSE = 4, 1
CTX = 56
SOFTMAX_SCALE = 1 / math.sqrt(NOPE + ROPE)
bf16 = torch.bfloat16


def lin(rows, cols):
    return (torch.randn(rows, cols, device=dev) / math.sqrt(cols)).to(bf16)


def norm_w(d):
    return torch.ones(d, device=dev, dtype=torch.float32)


class Layer:
    def __init__(self, moe):
        self.in_norm, self.post_norm, self.q_norm, self.kv_norm = norm_w(HID), norm_w(HID), norm_w(QLORA), norm_w(KV)
        self.q_a, self.q_b, self.kv_a, self.o = lin(QLORA, HID), lin(HEADS * (NOPE + ROPE), QLORA), lin(KV + ROPE, HID), lin(HID, HEADS * VD)
        self.w_uk = (torch.randn(HEADS, NOPE, KV, device=dev) / math.sqrt(NOPE)).to(bf16)   # q_nope [h, 1, nope] @ -> [h, 1, kv]
        self.w_uv = (torch.randn(HEADS, KV, VD, device=dev) / math.sqrt(KV)).to(bf16)       # o_lat [h, 1, kv] @ -> [h, 1, v]
        self.moe = moe
        if moe:
            self.router = torch.randn(E, HID, device=dev) / math.sqrt(HID)
            self.bias = torch.randn(E, device=dev) * 0.01
            # Generated in BF16 and scaled in place (15 GB for w13), then kept as FP8 only.
            self.w13 = torch.randn(E, 2 * MOE_INTER, HID, device=dev, dtype=bf16).div_(math.sqrt(HID)).to(torch.float8_e4m3fn)
            self.w2 = torch.randn(E, HID, MOE_INTER, device=dev, dtype=bf16).div_(math.sqrt(MOE_INTER)).to(torch.float8_e4m3fn)
            self.s13 = torch.ones(E, 2 * MOE_INTER, device=dev)
            self.s2 = torch.ones(E, HID, device=dev)
            self.sh_gate, self.sh_up, self.sh_down = lin(MOE_INTER, HID), lin(MOE_INTER, HID), lin(HID, MOE_INTER)
        else:
            self.gate, self.up, self.down = lin(INTER, HID), lin(INTER, HID), lin(HID, INTER)


def rms(x, w, eps=1e-6):
    xf = x.float()
    return (xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + eps) * w).to(bf16)


def rope(x, cos, sin):
    # x [..., ROPE] interleaved pairs, as DeepSeek-V3 rotates them
    x0, x1 = x[..., 0::2].float(), x[..., 1::2].float()
    return torch.stack((x0 * cos - x1 * sin, x1 * cos + x0 * sin), dim=-1).flatten(-2).to(bf16)


def route(layer, x):
    logits = F.linear(x.float(), layer.router)                       # [B, E] float32
    scores = logits.sigmoid()
    choice = scores + layer.bias
    groups = choice.view(x.shape[0], GROUPS, -1).topk(2, dim=-1).values.sum(-1)        # [B, groups]
    keep = torch.zeros_like(groups).scatter_(1, groups.topk(TOPK_GROUPS, dim=-1).indices, 1.0)
    masked = choice.masked_fill(keep.repeat_interleave(E // GROUPS, dim=1) == 0, float("-inf"))
    idx = masked.topk(K, dim=-1).indices
    w = scores.gather(1, idx)
    return idx, (w / w.sum(-1, keepdim=True)) * SCALE_ROUTED


def experts(layer, x, idx, w):
    flat = idx.flatten(); order = flat.argsort()
    counts = torch.zeros(E, dtype=torch.int32, device=dev).scatter_add_(0, flat.to(torch.int64), torch.ones_like(flat, dtype=torch.int32))
    offs = counts.cumsum(0).to(torch.int32)
    xs = x.repeat_interleave(K, dim=0)[order].to(torch.float8_e4m3fn)
    sa = torch.ones(xs.shape[0], device=dev)
    h = torch._scaled_grouped_mm(xs, layer.w13.transpose(1, 2), sa, layer.s13, offs=offs, out_dtype=bf16)
    g, u = h.chunk(2, dim=-1)
    m = (F.silu(g) * u).to(torch.float8_e4m3fn)
    o = torch._scaled_grouped_mm(m, layer.w2.transpose(1, 2), sa, layer.s2, offs=offs, out_dtype=bf16)
    o = o * w.flatten()[order].unsqueeze(1).to(bf16)
    out = torch.zeros_like(x); out.index_add_(0, order // K, o)
    return out


def mlp(x, gate, up, down):
    return F.linear(F.silu(F.linear(x, gate)) * F.linear(x, up), down)


class Model:
    def __init__(self, batch):
        self.layers = [Layer(moe=i >= DENSE) for i in range(LAYERS)]
        self.embed = (torch.randn(VOCAB, HID, device=dev) * 0.02).to(bf16)
        self.final_norm = norm_w(HID)
        self.head = lin(VOCAB, HID)
        self.cache = [(torch.rand(batch, CTX + 1, KV + ROPE, device=dev) * 2 - 1).to(bf16) for _ in range(LAYERS)]
        pos = torch.full((batch,), CTX, device=dev, dtype=torch.float32)
        inv = 1.0 / (10000 ** (torch.arange(0, ROPE, 2, device=dev, dtype=torch.float32) / ROPE))
        ang = pos.unsqueeze(1) * inv                                                     # [B, ROPE/2]
        self.cos, self.sin = ang.cos(), ang.sin()
        self.tokens = torch.randint(0, VOCAB, (batch,), device=dev)

    def step(self):
        B = self.tokens.shape[0]
        h = self.embed[self.tokens]                                                     # [B, HID]
        for li, L in enumerate(self.layers):
            x = rms(h, L.in_norm)
            q = F.linear(rms(F.linear(x, L.q_a), L.q_norm), L.q_b).view(B, HEADS, NOPE + ROPE)
            kv = F.linear(x, L.kv_a)                                                    # [B, KV + ROPE]
            q_nope, q_rope = q[..., :NOPE], rope(q[..., NOPE:], self.cos.unsqueeze(1), self.sin.unsqueeze(1))
            cache = self.cache[li]
            cache[:, CTX, :KV] = rms(kv[:, :KV], L.kv_norm)
            cache[:, CTX, KV:] = rope(kv[:, KV:], self.cos, self.sin)
            q_abs = torch.bmm(q_nope.transpose(0, 1), L.w_uk).transpose(0, 1)            # [B, HEADS, KV]
            qq = torch.cat((q_abs, q_rope), dim=-1)                                     # [B, HEADS, 576]
            s = torch.bmm(qq, cache.transpose(1, 2))                                    # [B, HEADS, CTX + 1]
            p = torch.softmax(s.float() * SOFTMAX_SCALE, dim=-1).to(bf16)
            o_lat = torch.bmm(p, cache[..., :KV])                                       # [B, HEADS, KV]
            attn = torch.bmm(o_lat.transpose(0, 1), L.w_uv).transpose(0, 1).reshape(B, HEADS * VD)
            h = h + F.linear(attn, L.o)
            x = rms(h, L.post_norm)
            if L.moe:
                idx, w = route(L, x)
                h = h + experts(L, x, idx, w) + mlp(x, L.sh_gate, L.sh_up, L.sh_down)
            else:
                h = h + mlp(x, L.gate, L.up, L.down)
        logits = F.linear(rms(h, self.final_norm), self.head)
        return logits.argmax(-1)


res = {"device": torch.cuda.get_device_name(), "torch": torch.__version__, "context": CTX, "layers": LAYERS, "rows": []}
for batch in (1, 64):
    row = {"batch": batch}
    try:
        model = Model(batch)
        row["weights_GB"] = torch.cuda.memory_allocated() / 1e9
        row["eager_ms"] = timeit(model.step) * 1e3
        try:
            torch.cuda.synchronize()
            side = torch.cuda.Stream()
            side.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(side):
                for _ in range(3):
                    model.step()
            torch.cuda.current_stream().wait_stream(side)
            graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(graph):
                model.step()
            row["graph_ms"] = timeit(graph.replay) * 1e3
        except Exception:
            row["graph_error"] = traceback.format_exc()[-600:]
        best = min(v for k, v in row.items() if k in ("eager_ms", "graph_ms"))
        row["tokens_per_s"] = batch / (best / 1e3)
        graph = None
        del model
    except Exception:
        row["error"] = traceback.format_exc()[-800:]
    torch.cuda.empty_cache()
    res["rows"].append(row)

r1 = None
if arg("--forward"):
    try:
        with open(arg("--forward")) as f:
            r1 = json.load(f)["reduced"]
    except Exception:
        res["forward_json_error"] = traceback.format_exc()[-300:]

print(f"PyTorch {res['torch']} on {res['device']}: reduced model decode step (V3 widths, {LAYERS} layers, context {CTX})")
for row in res["rows"]:
    if "error" in row:
        print(f"  batch {row['batch']}: {row['error']}")
        continue
    line = f"  batch {row['batch']:>2}: eager {row['eager_ms']:.3f} ms, graph {row.get('graph_ms', float('nan')):.3f} ms, {row['tokens_per_s']:.0f} tok/s ({row['weights_GB']:.1f} GB)"
    if r1 is not None:
        mine = [r for r in r1 if r.get("Batch") == row["batch"]]
        if mine:
            best = min(m["GraphStepMs"] for m in mine)
            line += f"; r1 graph {best:.3f} ms (best mode) = {min(row['eager_ms'], row.get('graph_ms', 1e9)) / best:.2f}x faster than PyTorch"
    print(line)
    if "graph_error" in row:
        print(f"    graph capture failed: {row['graph_error']}")

if arg("--out"):
    with open(arg("--out"), "w") as f:
        json.dump(res, f, indent=2)
