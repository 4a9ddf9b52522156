"""PyTorch's MoE decode step at DeepSeek-V3 sizes, for a same-run comparison with r1-gpucheck's FP8 kernels:
copy bandwidth, then one MoE layer (256 routed experts, top-8, hidden 7168, moe_intermediate 2048) at 1, 16, 64 and
256 tokens through torch._grouped_mm (BF16 weights) and torch._scaled_grouped_mm (FP8 e4m3 weights, rowwise scales),
the same layer's prefill at 4,096 tokens (TFLOP/s), and the dense matrix rates (torch.mm BF16 and torch._scaled_mm FP8
at 8192^3) that the prefill is measured against.
Adapted from the project's PyTorch anchors (shared/perf/torch_anchors.py); timings are CUDA-event medians.

usage: python3 tools/gpu/torch_moe.py [--out FILE.json]"""
import json, sys, traceback
import torch
from torch_timing import timeit

torch.manual_seed(0)
dev = torch.device("cuda")
E, H, I, K = 256, 7168, 2048, 8
TOKENS = (1, 16, 64, 256)
PREFILL = 4096
FLOP_PER_SLOT = 2 * 3 * H * I  # gate, up and down of one expert for one token


def routing(B):
    return torch.stack([torch.randperm(E, device=dev)[:K] for _ in range(B)])


res = {"device": torch.cuda.get_device_name(), "torch": torch.__version__}
n = 1 << 30
x = torch.empty(n, dtype=torch.uint8, device=dev).random_(0, 255)
y = torch.empty_like(x)
res["copy_GBps"] = 2 * n / timeit(lambda: y.copy_(x)) / 1e9
del x, y

# Dense matrix rates: the ceilings for a compute-bound step (prefill), measured in this run.
M = 8192
a = torch.randn(M, M, dtype=torch.bfloat16, device=dev); b = torch.randn(M, M, dtype=torch.bfloat16, device=dev)
res["bf16_mm_TFLOPs"] = 2 * M ** 3 / timeit(lambda: torch.mm(a, b)) / 1e12
try:
    a8 = a.to(torch.float8_e4m3fn); b8 = b.to(torch.float8_e4m3fn).t().contiguous().t()
    one = torch.ones((), device=dev)
    res["fp8_mm_TFLOPs"] = 2 * M ** 3 / timeit(lambda: torch._scaled_mm(a8, b8, one, one, out_dtype=torch.bfloat16)) / 1e12
    del a8, b8
except Exception:
    res["fp8_mm_error"] = traceback.format_exc()[-600:]
del a, b
torch.cuda.empty_cache()

w13 = torch.randn(E, 2 * I, H, dtype=torch.bfloat16, device=dev) * 0.02
w2 = torch.randn(E, H, I, dtype=torch.bfloat16, device=dev) * 0.02


def moe_bf16(xb, idx):
    flat = idx.flatten(); order = flat.argsort(); counts = torch.bincount(flat, minlength=E)
    offs = counts.cumsum(0).to(torch.int32)
    xs = xb.repeat_interleave(K, dim=0)[order]
    h = torch._grouped_mm(xs, w13.transpose(1, 2), offs=offs)
    g, u = h.chunk(2, dim=-1)
    o = torch._grouped_mm((torch.nn.functional.silu(g) * u).contiguous(), w2.transpose(1, 2), offs=offs)
    out = torch.zeros_like(xb); out.index_add_(0, order // K, o)
    return out


def row(kind, B, t, idx, bytes_per_expert):
    uniq = int(idx.unique().numel())
    gb = uniq * bytes_per_expert / 1e9
    return {"tokens": B, "ms": t * 1e3, "unique_experts": uniq, "GBps": gb / t, "pct_copy": 100 * gb / t / res["copy_GBps"]}


res["moe_decode_bf16"] = []
for B in TOKENS:
    xb = torch.randn(B, H, dtype=torch.bfloat16, device=dev); idx = routing(B)
    res["moe_decode_bf16"].append(row("bf16", B, timeit(lambda: moe_bf16(xb, idx)), idx, 3 * H * I * 2))


def prefill_row(t):
    return {"tokens": PREFILL, "ms": t * 1e3, "TFLOPs": PREFILL * K * FLOP_PER_SLOT / t / 1e12}


xp = torch.randn(PREFILL, H, dtype=torch.bfloat16, device=dev); idxp = routing(PREFILL)
res["moe_prefill_bf16"] = prefill_row(timeit(lambda: moe_bf16(xp, idxp), reps=10))

try:
    w13_8 = w13.to(torch.float8_e4m3fn); w2_8 = w2.to(torch.float8_e4m3fn)
    del w13, w2
    torch.cuda.empty_cache()
    s13 = torch.ones(E, 2 * I, device=dev); s2 = torch.ones(E, H, device=dev)

    def moe_fp8(xb, idx):
        flat = idx.flatten(); order = flat.argsort(); counts = torch.bincount(flat, minlength=E)
        offs = counts.cumsum(0).to(torch.int32)
        xs = xb.repeat_interleave(K, dim=0)[order].to(torch.float8_e4m3fn)
        sa = torch.ones(xs.shape[0], device=dev)
        h = torch._scaled_grouped_mm(xs, w13_8.transpose(1, 2), sa, s13, offs=offs, out_dtype=torch.bfloat16)
        g, u = h.chunk(2, dim=-1)
        m = (torch.nn.functional.silu(g) * u).to(torch.float8_e4m3fn)
        o = torch._scaled_grouped_mm(m, w2_8.transpose(1, 2), sa, s2, offs=offs, out_dtype=torch.bfloat16)
        out = torch.zeros(xb.shape, dtype=torch.bfloat16, device=dev); out.index_add_(0, order // K, o)
        return out

    res["moe_decode_fp8_rowwise"] = []
    for B in TOKENS:
        xb = torch.randn(B, H, dtype=torch.bfloat16, device=dev); idx = routing(B)
        res["moe_decode_fp8_rowwise"].append(row("fp8", B, timeit(lambda: moe_fp8(xb, idx)), idx, 3 * H * I))
    res["moe_prefill_fp8_rowwise"] = prefill_row(timeit(lambda: moe_fp8(xp, idxp), reps=10))
except Exception:
    res["moe_decode_fp8_error"] = traceback.format_exc()[-600:]

print(f"PyTorch {res['torch']} on {res['device']}: copy {res['copy_GBps']:.0f} GB/s")
print(f"{'tokens':>6} {'bf16 ms':>8} {'bf16 %copy':>10} {'fp8 ms':>8} {'fp8 %copy':>9}")
for i, B in enumerate(TOKENS):
    b = res["moe_decode_bf16"][i]
    f = res.get("moe_decode_fp8_rowwise", [None] * 4)[i]
    fs = f"{f['ms']:8.4f} {f['pct_copy']:9.1f}" if f else "   error"
    print(f"{B:>6} {b['ms']:8.4f} {b['pct_copy']:10.1f} {fs}")
print(f"dense matrix rate (8192^3): BF16 {res['bf16_mm_TFLOPs']:.0f} TFLOP/s, FP8 {res.get('fp8_mm_TFLOPs', float('nan')):.0f} TFLOP/s")
for kind in ("bf16", "fp8_rowwise"):
    p = res.get(f"moe_prefill_{kind}")
    if p:
        print(f"MoE prefill {PREFILL} tokens, {kind}: {p['ms']:.3f} ms, {p['TFLOPs']:.0f} TFLOP/s")
if "--out" in sys.argv:
    with open(sys.argv[sys.argv.index("--out") + 1], "w") as fh:
        json.dump(res, fh, indent=1)
