"""Writes a trained model as a Hugging Face DeepSeek-V3 checkpoint directory, in DeepSeek's own layout.

    config.json                      model_type deepseek_v3, num_nextn_predict_layers 1, fp8 e4m3 128x128 blocks
    model-0000k-of-0000n.safetensors linear weights F8_E4M3 + weight_scale_inv F32 [ceil(out/128), ceil(in/128)]
                                     (w = q * scale of its block); norms, embeddings, lm_head, gate, eh_proj BF16;
                                     e_score_correction_bias F32
    model.safetensors.index.json     weight_map
    tokenizer.json, tokenizer_config.json, generation_config.json, README.md (model card)

The safetensors files are written and read by the small functions below (8-byte little-endian header length, JSON
header, data), so that FP8 bytes round-trip exactly on any PyTorch; `load_dequantized` rebuilds the float64 weights
that the checkpoint means, which is what the reference model and the evaluation use.
"""
from __future__ import annotations

import json
import math
import os
import struct

import numpy as np
import torch

BLOCK = 128
FP8_MAX = 448.0
_DT = {"F8_E4M3": (np.uint8, 1), "BF16": (np.uint16, 2), "F32": (np.float32, 4), "F64": (np.float64, 8),
       "I64": (np.int64, 8), "I32": (np.int32, 4), "U8": (np.uint8, 1), "F16": (np.float16, 2)}


# ---------------------------------------------------------------- FP8 e4m3fn

def fp8_table() -> np.ndarray:
    """float64 value of each of the 256 e4m3fn codes (NaN for 0x7f/0xff)."""
    v = np.zeros(256, dtype=np.float64)
    for code in range(256):
        s = -1.0 if code & 0x80 else 1.0
        e = (code >> 3) & 0xF
        m = code & 0x7
        if e == 0xF and m == 0x7:
            v[code] = np.nan
        elif e == 0:
            v[code] = s * (m / 8.0) * 2.0 ** -6
        else:
            v[code] = s * (1 + m / 8.0) * 2.0 ** (e - 7)
    return v


_TABLE = fp8_table()


def _encode_fp8_numpy(x: np.ndarray) -> np.ndarray:
    """Round to nearest e4m3fn, ties to even code (values already within +-448)."""
    pos = _TABLE[:127]  # codes 0..126 are the non-negative finite values, increasing
    a = np.abs(x).astype(np.float64)
    hi = np.clip(np.searchsorted(pos, a, side="left"), 0, 126)
    lo = np.clip(hi - 1, 0, 126)
    dlo, dhi = a - pos[lo], pos[hi] - a
    pick_hi = (dhi < dlo) | ((dhi == dlo) & (hi % 2 == 0))
    code = np.where(pick_hi, hi, lo).astype(np.uint8)
    return np.where(x < 0, code | 0x80, code).astype(np.uint8)


def quantize_fp8(w: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """w [out,in] -> (codes uint8 [out,in], scale_inv float32 [ceil(out/128), ceil(in/128)]) with
    scale = amax(block)/448, q = round(w/scale)."""
    w = w.detach().to(torch.float32).cpu()
    o, i = w.shape
    bo, bi = math.ceil(o / BLOCK), math.ceil(i / BLOCK)
    scale = np.ones((bo, bi), dtype=np.float32)
    codes = np.zeros((o, i), dtype=np.uint8)
    for r in range(bo):
        for c in range(bi):
            blk = w[r * BLOCK:(r + 1) * BLOCK, c * BLOCK:(c + 1) * BLOCK]
            amax = float(blk.abs().max())
            s = np.float32(amax / FP8_MAX) if amax > 0 else np.float32(1.0)
            scale[r, c] = s
            x = (blk / torch.tensor(float(s))).clamp(-FP8_MAX, FP8_MAX)
            if hasattr(torch, "float8_e4m3fn"):
                q = x.to(torch.float8_e4m3fn).view(torch.uint8).numpy()
            else:
                q = _encode_fp8_numpy(x.numpy())
            codes[r * BLOCK:(r + 1) * BLOCK, c * BLOCK:(c + 1) * BLOCK] = q
    return codes, scale


def dequantize_fp8(codes: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """float64 w = q * scale of its block."""
    v = _TABLE[codes]
    s = np.repeat(np.repeat(scale.astype(np.float64), BLOCK, 0), BLOCK, 1)[: codes.shape[0], : codes.shape[1]]
    return v * s


def to_bf16_bits(t: torch.Tensor) -> np.ndarray:
    """Round to nearest even bfloat16; returns the 16-bit patterns."""
    f = t.detach().to(torch.float32).cpu().contiguous().numpy().view(np.uint32).astype(np.uint64)
    rounded = (f + 0x7FFF + ((f >> 16) & 1)) >> 16
    return rounded.astype(np.uint16)


def bf16_bits_to_f64(b: np.ndarray) -> np.ndarray:
    return (b.astype(np.uint32) << 16).view(np.float32).astype(np.float64)


# ---------------------------------------------------------------- safetensors

def write_safetensors(path: str, tensors: dict[str, tuple[str, list[int], np.ndarray]], metadata: dict | None = None):
    header, offset, blobs = {}, 0, []
    if metadata:
        header["__metadata__"] = metadata
    for name in sorted(tensors):
        dtype, shape, arr = tensors[name]
        b = np.ascontiguousarray(arr).tobytes()
        assert len(b) == int(np.prod(shape)) * _DT[dtype][1], name
        header[name] = {"dtype": dtype, "shape": list(shape), "data_offsets": [offset, offset + len(b)]}
        blobs.append(b)
        offset += len(b)
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def read_safetensors(path: str) -> dict[str, tuple[str, list[int], np.ndarray]]:
    with open(path, "rb") as f:
        data = f.read()
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    base = 8 + n
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        npd, _ = _DT[info["dtype"]]
        a, b = info["data_offsets"]
        out[name] = (info["dtype"], info["shape"], np.frombuffer(data[base + a:base + b], dtype=npd).reshape(info["shape"]))
    return out


# ---------------------------------------------------------------- the checkpoint

def is_fp8_linear(name: str) -> bool:
    """Linear layers stored in FP8: attention projections and every MLP/expert projection (not the gate, not eh_proj,
    not lm_head/embeddings), as DeepSeek ships V3."""
    return name.endswith(".weight") and any(
        k in name for k in ("q_a_proj", "q_b_proj", "kv_a_proj_with_mqa", "kv_b_proj", "o_proj",
                            "gate_proj", "up_proj", "down_proj"))


def hf_config(c, torch_dtype: str = "bfloat16", fp8: bool = True) -> dict:
    d = {
        "architectures": ["DeepseekV3ForCausalLM"],
        "model_type": "deepseek_v3",
        "attention_bias": False,
        "attention_dropout": 0.0,
        "aux_loss_alpha": 0.001,
        "bos_token_id": c.bos_token_id,
        "eos_token_id": c.eos_token_id,
        "ep_size": 1,
        "first_k_dense_replace": c.first_k_dense_replace,
        "hidden_act": "silu",
        "hidden_size": c.hidden_size,
        "initializer_range": 0.02,
        "intermediate_size": c.intermediate_size,
        "kv_lora_rank": c.kv_lora_rank,
        "max_position_embeddings": c.max_position_embeddings,
        "moe_intermediate_size": c.moe_intermediate_size,
        "moe_layer_freq": 1,
        "n_group": c.n_group,
        "n_routed_experts": c.n_routed_experts,
        "n_shared_experts": c.n_shared_experts,
        "norm_topk_prob": c.norm_topk_prob,
        "num_attention_heads": c.num_attention_heads,
        "num_experts_per_tok": c.num_experts_per_tok,
        "num_hidden_layers": c.num_hidden_layers,
        "num_key_value_heads": c.num_attention_heads,
        "num_nextn_predict_layers": c.num_nextn_predict_layers,
        "pretraining_tp": 1,
        "q_lora_rank": c.q_lora_rank,
        "qk_nope_head_dim": c.qk_nope_head_dim,
        "qk_rope_head_dim": c.qk_rope_head_dim,
        "rms_norm_eps": c.rms_norm_eps,
        "rope_scaling": dict(c.rope_scaling),
        "rope_theta": c.rope_theta,
        "routed_scaling_factor": c.routed_scaling_factor,
        "scoring_func": "sigmoid",
        "seq_aux": True,
        "tie_word_embeddings": False,
        "topk_group": c.topk_group,
        "topk_method": "noaux_tc",
        "torch_dtype": torch_dtype,
        "use_cache": True,
        "v_head_dim": c.v_head_dim,
        "vocab_size": c.vocab_size,
    }
    if fp8:
        d["quantization_config"] = {"activation_scheme": "dynamic", "fmt": "e4m3", "quant_method": "fp8",
                                    "weight_block_size": [BLOCK, BLOCK]}
    return d


def checkpoint_tensors(state: dict[str, torch.Tensor]) -> dict[str, tuple[str, list[int], np.ndarray]]:
    out = {}
    for name, t in state.items():
        shape = list(t.shape)
        if name.endswith("e_score_correction_bias"):
            out[name] = ("F32", shape, t.detach().float().cpu().numpy())
        elif t.dim() == 2 and is_fp8_linear(name):
            q, s = quantize_fp8(t)
            out[name] = ("F8_E4M3", shape, q)
            out[name + "_scale_inv"] = ("F32", list(s.shape), s)
        else:
            out[name] = ("BF16", shape, to_bf16_bits(t))
    return out


def write_checkpoint(out_dir: str, state: dict[str, torch.Tensor], config, max_shard_bytes: int = 7_500_000) -> list[str]:
    """Writes the safetensors shards and index; returns the shard file names."""
    os.makedirs(out_dir, exist_ok=True)
    tensors = checkpoint_tensors(state)

    def nbytes(n):
        return tensors[n][2].nbytes

    def order(n):  # main layers in order, then the rest
        import re
        m = re.match(r"model\.layers\.(\d+)\.", n)
        return (int(m.group(1)) if m else (-1 if "embed" in n else 10 ** 6), n)

    names = sorted(tensors, key=order)
    total = sum(nbytes(n) for n in names)
    nshards = max(1, math.ceil(total / max_shard_bytes))
    target = total / nshards
    shards, cur, size = [], [], 0
    for n in names:
        if cur and size + nbytes(n) > target * 1.02 and len(shards) < nshards - 1:
            shards.append(cur)
            cur, size = [], 0
        cur.append(n)
        size += nbytes(n)
    shards.append(cur)
    files, weight_map = [], {}
    for k, group in enumerate(shards):
        fname = f"model-{k + 1:05d}-of-{len(shards):05d}.safetensors" if len(shards) > 1 else "model.safetensors"
        write_safetensors(os.path.join(out_dir, fname), {n: tensors[n] for n in group}, {"format": "pt"})
        files.append(fname)
        for n in group:
            weight_map[n] = fname
    if len(shards) > 1:
        with open(os.path.join(out_dir, "model.safetensors.index.json"), "w") as f:
            json.dump({"metadata": {"total_size": total}, "weight_map": dict(sorted(weight_map.items()))}, f, indent=2)
    with open(os.path.join(out_dir, "config.json"), "w") as f:
        json.dump(hf_config(config), f, indent=2)
    return files


def load_dequantized(ckpt_dir: str) -> dict[str, torch.Tensor]:
    """float64 tensors by name, exactly as the checkpoint defines them (FP8 dequantized with its block scales)."""
    raw = {}
    for fname in sorted(os.listdir(ckpt_dir)):
        if fname.startswith("model") and fname.endswith(".safetensors"):
            raw.update(read_safetensors(os.path.join(ckpt_dir, fname)))
    out = {}
    for name, (dtype, shape, arr) in raw.items():
        if name.endswith("_scale_inv"):
            continue
        if dtype == "F8_E4M3":
            out[name] = torch.from_numpy(dequantize_fp8(arr, raw[name + "_scale_inv"][2]))
        elif dtype == "BF16":
            out[name] = torch.from_numpy(bf16_bits_to_f64(arr))
        else:
            out[name] = torch.from_numpy(arr.astype(np.float64))
    return out


def load_into(model, state64: dict[str, torch.Tensor]):
    """Loads checkpoint tensors into the training model (the MTP head falls back to lm_head, as it is tied)."""
    own = model.state_dict()
    L = model.config.num_hidden_layers
    missing = [k for k in own if k not in state64 and k != f"model.layers.{L}.shared_head.head.weight"]
    if missing:
        raise KeyError(f"checkpoint lacks {missing[:5]}")
    with torch.no_grad():
        for k, v in own.items():
            if k in state64:
                v.copy_(state64[k].to(v.dtype))


GENERATION_CONFIG = {"_from_model_config": True, "bos_token_id": 0, "eos_token_id": 1, "do_sample": True,
                     "temperature": 0.6, "top_p": 0.95}


def write_extras(out_dir: str, tok_dir: str, card: str):
    import shutil

    for f in ("tokenizer.json", "tokenizer_config.json"):
        shutil.copy(os.path.join(tok_dir, f), os.path.join(out_dir, f))
    with open(os.path.join(out_dir, "generation_config.json"), "w") as f:
        json.dump(GENERATION_CONFIG, f, indent=2)
    with open(os.path.join(out_dir, "README.md"), "w") as f:
        f.write(card)


def export(model, out_dir: str, tok_dir: str, card: str) -> dict:
    """The whole directory; returns sizes."""
    from model import export_state_dict

    files = write_checkpoint(out_dir, export_state_dict(model), model.config)
    write_extras(out_dir, tok_dir, card)
    sizes = {f: os.path.getsize(os.path.join(out_dir, f)) for f in files}
    return {"files": sizes, "total_bytes": sum(sizes.values())}
