"""PyTorch's MLA absorbed decode at issue 19's size, for a same-run comparison with r1-gpucheck's mla_decode kernel:
64 sequences x 4,096 context, 128 heads, latent 512 + rope 64, bf16, over a contiguous [batch, ctx, 576] cache
(PyTorch has no paged layout: this favours it slightly).
  - bmm path: scores = bmm(q, kv^T) in bf16, softmax in float32, out = bmm(p.bf16, c), c = kv[..., :512];
  - torch.nn.functional.scaled_dot_product_attention, MQA (1 kv head, q dim 576, v dim 512), two ways: heads as the
    query length of one head ([B, 1, 128, 576] against [B, 1, ctx, *]) and enable_gqa ([B, 128, 1, 576]); a refusal
    (e.g. dk != dv) is recorded with its message;
  - the dense BF16 matrix rate: torch.mm 8192^3 bf16 (median), the ceiling issue 19's target is stated against.
FLOPs = 2 * batch * heads * ctx * (576 + 512). Timings are CUDA-event medians. With --gpucheck FILE (r1-gpucheck's
--out JSON of the same run), prints r1's kernel against these.

usage: python3 tools/gpu/torch_mla.py [--out FILE.json] [--gpucheck gpucheck.json]"""
import json, math, os, sys, traceback
import torch
from torch_timing import arg, timeit

torch.manual_seed(0)
dev = torch.device("cuda")
B, CTX, H, D, DV = 64, 4096, 128, 576, 512
SCALE = 1 / math.sqrt(192)
FLOP = 2 * B * H * CTX * (D + DV)


res = {"device": torch.cuda.get_device_name(), "torch": torch.__version__, "batch": B, "context": CTX, "heads": H,
       "gflop": FLOP / 1e9}

# The dense BF16 matrix rate.
n = 8192
x = torch.randn(n, n, dtype=torch.bfloat16, device=dev)
y = torch.randn(n, n, dtype=torch.bfloat16, device=dev)
t = timeit(lambda: torch.mm(x, y), reps=20, warm=5)
res["mm_bf16_8192_ms"] = t * 1e3
res["mm_bf16_tflops"] = 2 * n ** 3 / t / 1e12
del x, y
torch.cuda.empty_cache()

q = (torch.rand(B, H, D, device=dev) * 2 - 1).to(torch.bfloat16)      # [B, H, 576]
kv = (torch.rand(B, CTX, D, device=dev) * 2 - 1).to(torch.bfloat16)   # [B, ctx, 576]
c = kv[..., :DV]                                                      # [B, ctx, 512], strided view


def bmm_path():
    s = torch.bmm(q, kv.transpose(1, 2))                 # [B, H, ctx] bf16
    p = torch.softmax(s.float() * SCALE, dim=-1)         # float32
    return torch.bmm(p.to(torch.bfloat16), c)            # [B, H, 512] bf16


t = timeit(bmm_path)
res["bmm_ms"] = t * 1e3
res["bmm_tflops"] = FLOP / t / 1e12
ref_out = bmm_path().float()

# float64 reference for a few (sequence, head) pairs: the bmm path's own error
qs, ks = q[:2, :4].double(), kv[:2].double()
p64 = torch.softmax(torch.einsum("bhd,bud->bhu", qs, ks) * SCALE, dim=-1)
o64 = torch.einsum("bhu,bud->bhd", p64, ks[..., :DV])
res["bmm_rel_l2_vs_float64"] = float((ref_out[:2, :4].double() - o64).norm() / o64.norm())


def sdpa(kind):
    F = torch.nn.functional
    if kind == "heads_as_queries":
        qq, kk, vv = q.unsqueeze(1), kv.unsqueeze(1), c.unsqueeze(1)          # [B,1,H,576], [B,1,ctx,576], [B,1,ctx,512]
        return lambda: F.scaled_dot_product_attention(qq, kk, vv, scale=SCALE).squeeze(1)
    qq, kk, vv = q.unsqueeze(2), kv.unsqueeze(1), c.unsqueeze(1)              # [B,H,1,576]
    return lambda: F.scaled_dot_product_attention(qq, kk, vv, scale=SCALE, enable_gqa=True).squeeze(2)


for kind in ("heads_as_queries", "enable_gqa"):
    key = "sdpa_" + kind
    try:
        fn = sdpa(kind)
        o = fn().float()
        res[key + "_rel_l2_vs_bmm"] = float((o - ref_out).norm() / ref_out.norm())
        t = timeit(fn)
        res[key + "_ms"] = t * 1e3
        res[key + "_tflops"] = FLOP / t / 1e12
    except Exception as e:
        res[key + "_error"] = (type(e).__name__ + ": " + str(e))[-600:]

print(f"PyTorch {res['torch']} on {res['device']}: torch.mm bf16 8192^3 {res['mm_bf16_tflops']:.1f} TFLOP/s")
print(f"MLA absorbed decode {B} x {CTX} context, {H} heads, 512 + 64, bf16 ({FLOP / 1e9:.1f} GFLOP):")
print(f"  bmm path  {res['bmm_ms']:.4f} ms  {res['bmm_tflops']:.1f} TFLOP/s  (relL2 vs float64 {res['bmm_rel_l2_vs_float64']:.2e})")
for kind in ("heads_as_queries", "enable_gqa"):
    key = "sdpa_" + kind
    if key + "_ms" in res:
        print(f"  SDPA {kind:<17} {res[key + '_ms']:.4f} ms  {res[key + '_tflops']:.1f} TFLOP/s  (relL2 vs bmm {res[key + '_rel_l2_vs_bmm']:.2e})")
    else:
        print(f"  SDPA {kind:<17} refused: {res[key + '_error'].splitlines()[-1] if res[key + '_error'] else ''}")

gc = arg("--gpucheck")
if gc and os.path.exists(gc):
    try:
        m = json.load(open(gc)).get("mlaDecode")
        if m:
            r1ms = m["Best"]["Ms"]
            r1tf = FLOP / (r1ms / 1e3) / 1e12
            res["r1"] = {"ms": r1ms, "splits": m["Best"]["Splits"], "tflops": r1tf,
                         "pct_of_mm_bf16": 100 * r1tf / res["mm_bf16_tflops"], "x_bmm": res["bmm_ms"] / r1ms,
                         "mma_sync_peak_tflops": m.get("MmaPeakTflops")}
            r = res["r1"]
            print(f"  r1 mla_decode {r1ms:.4f} ms  {r1tf:.1f} TFLOP/s = {r['pct_of_mm_bf16']:.1f}% of torch.mm bf16 (target >= 70%), "
                  f"{r['x_bmm']:.2f}x the bmm path (target >= 4x); mma.sync ceiling {r['mma_sync_peak_tflops']} TFLOP/s")
    except Exception:
        res["r1_error"] = traceback.format_exc()[-600:]
        print(res["r1_error"])

if arg("--out"):
    with open(arg("--out"), "w") as fh:
        json.dump(res, fh, indent=1)
