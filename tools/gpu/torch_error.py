"""The fast path's error beside PyTorch's BF16 on the same inputs (issue 19, item 4): one MoE step that r1-gpucheck
--error-case DIR ran and wrote (inputs, FP8 weights with their 128x128 block scales, its output), recomputed here
  - in float64 (the reference: weights dequantized exactly, every product and sum in float64),
  - the way PyTorch serves in BF16 (activations and dequantized weights in bf16, bf16 matmul outputs, SiLU x up in
    bf16, the top-k combine in float32),
  - in float32 (TF32 off) as a check of the reference itself,
and the relative L2 error of each, r1-gpucheck's output included, against the float64 one. Passes when r1-gpucheck's
error is no worse than PyTorch's BF16.

usage: python3 tools/gpu/torch_error.py DIR [--out FILE.json]"""
import json, os, sys
import torch

torch.backends.cuda.matmul.allow_tf32 = False
dev = torch.device("cuda")
d = sys.argv[1]
case = json.load(open(os.path.join(d, "case.json")))
T, E, H, I, K = case["tokens"], case["experts"], case["hidden"], case["intermediate"], case["topK"]


def load(name, dtype, shape):
    with open(os.path.join(d, name), "rb") as f:
        return torch.frombuffer(bytearray(f.read()), dtype=dtype).reshape(shape).to(dev)


x = load("x.f32", torch.float32, (T, H))
ids = load("ids.i32", torch.int32, (T, K)).long()
w = load("weights.f32", torch.float32, (T, K))
ours = load("out.f32", torch.float32, (T, H))


def dequant(codes, scales):  # w = e4m3 code * block scale, exact in float64
    s = scales.to(torch.float64).repeat_interleave(128, dim=1).repeat_interleave(128, dim=2)
    return codes.view(torch.float8_e4m3fn).to(torch.float64) * s


w13 = dequant(load("w13.u8", torch.uint8, (E, 2 * I, H)), load("s13.f32", torch.float32, (E, 2 * I // 128, H // 128)))
w2 = dequant(load("w2.u8", torch.uint8, (E, H, I)), load("s2.f32", torch.float32, (E, H // 128, I // 128)))


def moe(xa, w13a, w2a, act, combine):
    out = torch.zeros(T, H, dtype=combine, device=dev)
    for e in range(E):
        rows, slots = (ids == e).nonzero(as_tuple=True)
        if rows.numel() == 0:
            continue
        hcat = xa[rows] @ w13a[e].t()
        g, u = hcat[:, :I], hcat[:, I:]
        m = (torch.nn.functional.silu(g) * u).to(act)
        y = (m @ w2a[e].t()).to(combine)
        out.index_add_(0, rows, w[rows, slots].to(combine).unsqueeze(1) * y)
    return out


ref = moe(x.to(torch.float64), w13, w2, torch.float64, torch.float64)
bf16 = moe(x.to(torch.bfloat16), w13.to(torch.bfloat16), w2.to(torch.bfloat16), torch.bfloat16, torch.float32)
f32 = moe(x, w13.to(torch.float32), w2.to(torch.float32), torch.float32, torch.float32)


def rel(a):
    a = a.to(torch.float64)
    return {"relative_l2": float((a - ref).norm() / ref.norm()), "max_abs": float((a - ref).abs().max()), "non_finite": int((~torch.isfinite(a)).sum())}


res = {"case": case, "torch": torch.__version__, "device": torch.cuda.get_device_name(),
       "r1orleans_fp8_f16_activations": rel(ours), "torch_bf16": rel(bf16), "torch_float32": rel(f32)}
ok = res["r1orleans_fp8_f16_activations"]["non_finite"] == 0 and res["r1orleans_fp8_f16_activations"]["relative_l2"] <= res["torch_bf16"]["relative_l2"]
res["passed"] = ok
print(f"MoE step, {T} tokens x top-{K} of {E} experts, hidden {H}, moe_intermediate {I}; relative L2 error against float64:")
for k in ("r1orleans_fp8_f16_activations", "torch_bf16", "torch_float32"):
    r = res[k]
    print(f"  {k:32} {r['relative_l2']:.3e}  (max |diff| {r['max_abs']:.3e}, non-finite {r['non_finite']})")
print(f"r1orleans' fast path {'no worse than' if ok else 'WORSE THAN'} PyTorch BF16: {'PASS' if ok else 'FAIL'}")
if "--out" in sys.argv:
    with open(sys.argv[sys.argv.index("--out") + 1], "w") as fh:
        json.dump(res, fh, indent=1)
sys.exit(0 if ok else 1)
