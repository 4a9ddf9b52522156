"""DeepSeek-V3 in miniature, in the order of the architecture, with Hugging Face DeepseekV3ForCausalLM's names.

    embed_tokens -> [decoder block] x num_hidden_layers -> norm -> lm_head
    decoder block: h += MLA(input_layernorm(h)); h += FFN(post_attention_layernorm(h))
    FFN: dense MLP for layers < first_k_dense_replace, else MoE (1 shared expert + routed experts, noaux_tc gate)
    MTP (model.layers.{num_hidden_layers}): h' = eh_proj([enorm(embed(t+1)); hnorm(h_t)]), one decoder block,
         shared_head.norm, shared_head.head (tied to lm_head, as DeepSeek-V3 shares the output head) -> token t+2

Everything runs in any float dtype: bf16 autocast for training, float64 for the reference outputs of the golden case.
The routed experts are computed for every token and combined with a [tokens, experts] weight matrix that is zero
outside each token's top-k: the same sum as a sparse dispatch, in three large matrix products (the experts are tiny).
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import torch
import torch.nn.functional as F
from torch import nn


@dataclass
class Config:
    vocab_size: int = 4096
    hidden_size: int = 256
    intermediate_size: int = 512
    moe_intermediate_size: int = 96
    num_hidden_layers: int = 4
    first_k_dense_replace: int = 1
    num_attention_heads: int = 4
    q_lora_rank: int = 128
    kv_lora_rank: int = 64
    qk_nope_head_dim: int = 32
    qk_rope_head_dim: int = 16
    v_head_dim: int = 32
    n_routed_experts: int = 16
    n_shared_experts: int = 1
    num_experts_per_tok: int = 4
    n_group: int = 4
    topk_group: int = 2
    routed_scaling_factor: float = 2.5
    norm_topk_prob: bool = True
    rms_norm_eps: float = 1e-6
    rope_theta: float = 10000.0
    rope_scaling: dict = field(default_factory=lambda: {
        "type": "yarn", "factor": 40.0, "original_max_position_embeddings": 4096, "beta_fast": 32, "beta_slow": 1,
        "mscale": 1.0, "mscale_all_dim": 1.0})
    max_position_embeddings: int = 4096
    num_nextn_predict_layers: int = 1
    bos_token_id: int = 0
    eos_token_id: int = 1

    @property
    def qk_head_dim(self) -> int:
        return self.qk_nope_head_dim + self.qk_rope_head_dim

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_hf(cls, d: dict) -> "Config":
        """From a Hugging Face config.json of this layout."""
        names = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in d.items() if k in names})


# ---------------------------------------------------------------- building blocks

class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x):
        dt = x.dtype
        xf = x.float() if dt in (torch.float16, torch.bfloat16) else x
        xf = xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + self.eps)
        return self.weight.to(xf.dtype) * xf if dt == torch.float64 else (self.weight * xf.to(dt))


def yarn_inv_freq(c: Config) -> tuple[torch.Tensor, float]:
    """RoPE frequencies f_i = theta^(-2i/d) with YaRN's ramp (BRIEF §1), in float64; and the softmax scale."""
    d = c.qk_rope_head_dim
    base = c.rope_theta
    i = torch.arange(d // 2, dtype=torch.float64)
    f = base ** (-2 * i / d)
    scale = c.qk_head_dim ** -0.5
    rs = c.rope_scaling
    if rs and rs.get("type", rs.get("rope_type")) == "yarn":
        factor, orig = float(rs["factor"]), float(rs["original_max_position_embeddings"])

        def corr(r):
            return d * math.log(orig / (2 * math.pi * r)) / (2 * math.log(base))

        lo = max(math.floor(corr(rs.get("beta_fast", 32))), 0)
        hi = min(math.ceil(corr(rs.get("beta_slow", 1))), d - 1)
        if lo == hi:
            hi += 0.001
        ramp = ((i - lo) / (hi - lo)).clamp(0, 1)
        f = f / factor * ramp + f * (1 - ramp)
        mall = rs.get("mscale_all_dim", 0)
        if mall:
            m = 0.1 * mall * math.log(factor) + 1.0 if factor > 1 else 1.0
            scale = scale * m * m
    return f, scale


def apply_rope_interleaved(x, cos, sin):
    """x [..., S, d] rotated in interleaved pairs (0,1), (2,3), ...; cos/sin [..., S, d/2]."""
    x0, x1 = x[..., 0::2], x[..., 1::2]
    r0 = x0 * cos - x1 * sin
    r1 = x0 * sin + x1 * cos
    return torch.stack((r0, r1), dim=-1).flatten(-2)


def attention(q, k, v, mask, scale):
    """q,k [B,H,S,dk], v [B,H,T,dv], mask bool [B,1,S,T] (True = attend)."""
    if hasattr(F, "scaled_dot_product_attention") and q.dtype != torch.float64:
        return F.scaled_dot_product_attention(q, k, v, attn_mask=mask, scale=scale)
    s = torch.matmul(q, k.transpose(-1, -2)) * scale
    s = s.masked_fill(~mask, float("-inf"))
    return torch.matmul(torch.softmax(s, dim=-1), v)


# ---------------------------------------------------------------- MLA

class DeepseekV3Attention(nn.Module):
    def __init__(self, c: Config):
        super().__init__()
        self.c = c
        h = c.num_attention_heads
        self.q_a_proj = nn.Linear(c.hidden_size, c.q_lora_rank, bias=False)
        self.q_a_layernorm = RMSNorm(c.q_lora_rank, c.rms_norm_eps)
        self.q_b_proj = nn.Linear(c.q_lora_rank, h * c.qk_head_dim, bias=False)
        self.kv_a_proj_with_mqa = nn.Linear(c.hidden_size, c.kv_lora_rank + c.qk_rope_head_dim, bias=False)
        self.kv_a_layernorm = RMSNorm(c.kv_lora_rank, c.rms_norm_eps)
        self.kv_b_proj = nn.Linear(c.kv_lora_rank, h * (c.qk_nope_head_dim + c.v_head_dim), bias=False)
        self.o_proj = nn.Linear(h * c.v_head_dim, c.hidden_size, bias=False)

    def forward(self, x, cos, sin, mask, scale, cache=None):
        c = self.c
        B, S, _ = x.shape
        H, dn, dr, dv = c.num_attention_heads, c.qk_nope_head_dim, c.qk_rope_head_dim, c.v_head_dim
        q = self.q_b_proj(self.q_a_layernorm(self.q_a_proj(x))).view(B, S, H, dn + dr).transpose(1, 2)
        q_nope, q_pe = q[..., :dn], q[..., dn:]
        kv = self.kv_a_proj_with_mqa(x)
        latent, k_pe = kv[..., :c.kv_lora_rank], kv[..., c.kv_lora_rank:]
        kvb = self.kv_b_proj(self.kv_a_layernorm(latent)).view(B, S, H, dn + dv).transpose(1, 2)
        k_nope, v = kvb[..., :dn], kvb[..., dn:]
        rd = torch.float64 if q.dtype == torch.float64 else torch.float32  # rotate in float32 under autocast
        cos_, sin_ = cos[:, None].to(rd), sin[:, None].to(rd)
        q_pe = apply_rope_interleaved(q_pe.to(rd), cos_, sin_).to(q.dtype)
        k_pe = apply_rope_interleaved(k_pe[:, None].to(rd), cos_, sin_).to(q.dtype).expand(B, H, S, dr)
        q = torch.cat((q_nope, q_pe), dim=-1)
        k = torch.cat((k_nope, k_pe), dim=-1)
        if cache is not None:  # generation: append to this layer's cache of keys and values
            if "k" in cache:
                k = torch.cat((cache["k"], k), dim=2)
                v = torch.cat((cache["v"], v), dim=2)
            cache["k"], cache["v"] = k, v
        o = attention(q, k, v, mask, scale)
        return self.o_proj(o.transpose(1, 2).reshape(B, S, H * dv))


# ---------------------------------------------------------------- FFN

class DeepseekV3MLP(nn.Module):
    def __init__(self, hidden: int, inter: int):
        super().__init__()
        self.gate_proj = nn.Linear(hidden, inter, bias=False)
        self.up_proj = nn.Linear(hidden, inter, bias=False)
        self.down_proj = nn.Linear(inter, hidden, bias=False)

    def forward(self, x):
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class DeepseekV3TopkRouter(nn.Module):
    """noaux_tc: sigmoid scores; the bias picks (group score = sum of top-2 per group, keep topk_group groups,
    top-k experts among them) but never weighs; weights = picked scores / their sum * routed_scaling_factor."""

    def __init__(self, c: Config):
        super().__init__()
        self.c = c
        self.weight = nn.Parameter(torch.empty(c.n_routed_experts, c.hidden_size))
        self.register_buffer("e_score_correction_bias", torch.zeros(c.n_routed_experts, dtype=torch.float32))

    def scores(self, x):
        """sigmoid(W_g x) in float32 (float64 in a float64 model), outside autocast."""
        dt = torch.float64 if x.dtype == torch.float64 else torch.float32
        with torch.autocast(device_type=x.device.type, enabled=False):
            return torch.sigmoid(F.linear(x.to(dt), self.weight.to(dt)))

    def route(self, s):
        """s [T,E] sigmoid scores -> (ids [T,k], weights [T,k]), and the choice scores."""
        c = self.c
        T, E = s.shape
        choice = s + self.e_score_correction_bias.to(s.dtype)
        g = choice.view(T, c.n_group, E // c.n_group).topk(2, dim=-1).values.sum(-1)
        gidx = g.topk(c.topk_group, dim=-1).indices
        gmask = torch.zeros_like(g, dtype=torch.bool).scatter_(1, gidx, True)
        emask = gmask.unsqueeze(-1).expand(T, c.n_group, E // c.n_group).reshape(T, E)
        ids = choice.masked_fill(~emask, float("-inf")).topk(c.num_experts_per_tok, dim=-1).indices
        w = s.gather(1, ids)
        if c.norm_topk_prob:
            w = w / w.sum(-1, keepdim=True)
        return ids, w * c.routed_scaling_factor, choice


class DeepseekV3MoE(nn.Module):
    def __init__(self, c: Config):
        super().__init__()
        self.c = c
        self.experts = nn.ModuleList(DeepseekV3MLP(c.hidden_size, c.moe_intermediate_size) for _ in range(c.n_routed_experts))
        self.gate = DeepseekV3TopkRouter(c)
        self.shared_experts = DeepseekV3MLP(c.hidden_size, c.moe_intermediate_size * c.n_shared_experts)
        self.last_ids = None  # [T,k] of the last forward, for load statistics and golden files
        self.last_weights = None

    def forward(self, x):
        c = self.c
        shape = x.shape
        xt = x.reshape(-1, shape[-1])
        T, E, I = xt.shape[0], c.n_routed_experts, c.moe_intermediate_size
        s = self.gate.scores(xt)
        with torch.no_grad():
            ids, _, _ = self.gate.route(s.detach())
        w = s.gather(1, ids)
        if c.norm_topk_prob:
            w = w / w.sum(-1, keepdim=True)
        w = w * c.routed_scaling_factor
        self.last_ids, self.last_weights = ids, w.detach()
        dense_w = torch.zeros(T, E, dtype=w.dtype, device=w.device).scatter(1, ids, w)
        gate_w = torch.cat([e.gate_proj.weight for e in self.experts], 0)  # [E*I, D]
        up_w = torch.cat([e.up_proj.weight for e in self.experts], 0)
        down_w = torch.cat([e.down_proj.weight for e in self.experts], 1)  # [D, E*I]
        a = F.silu(F.linear(xt, gate_w)) * F.linear(xt, up_w)
        a = (a.view(T, E, I) * dense_w.to(a.dtype).unsqueeze(-1)).view(T, E * I)
        out = F.linear(a, down_w) + self.shared_experts(xt)
        return out.view(shape)


# ---------------------------------------------------------------- blocks

class DeepseekV3DecoderLayer(nn.Module):
    def __init__(self, c: Config, layer: int):
        super().__init__()
        self.input_layernorm = RMSNorm(c.hidden_size, c.rms_norm_eps)
        self.self_attn = DeepseekV3Attention(c)
        self.post_attention_layernorm = RMSNorm(c.hidden_size, c.rms_norm_eps)
        self.mlp = DeepseekV3MoE(c) if layer >= c.first_k_dense_replace else DeepseekV3MLP(c.hidden_size, c.intermediate_size)

    def forward(self, h, cos, sin, mask, scale, cache=None):
        h = h + self.self_attn(self.input_layernorm(h), cos, sin, mask, scale, cache)
        return h + self.mlp(self.post_attention_layernorm(h))


class SharedHead(nn.Module):
    def __init__(self, c: Config):
        super().__init__()
        self.norm = RMSNorm(c.hidden_size, c.rms_norm_eps)
        self.head = nn.Linear(c.hidden_size, c.vocab_size, bias=False)


class DeepseekV3MTPLayer(DeepseekV3DecoderLayer):
    def __init__(self, c: Config, layer: int):
        super().__init__(c, layer)
        self.enorm = RMSNorm(c.hidden_size, c.rms_norm_eps)
        self.hnorm = RMSNorm(c.hidden_size, c.rms_norm_eps)
        self.eh_proj = nn.Linear(2 * c.hidden_size, c.hidden_size, bias=False)
        self.shared_head = SharedHead(c)


class DeepseekV3Model(nn.Module):
    def __init__(self, c: Config):
        super().__init__()
        self.embed_tokens = nn.Embedding(c.vocab_size, c.hidden_size)
        layers = [DeepseekV3DecoderLayer(c, l) for l in range(c.num_hidden_layers)]
        if c.num_nextn_predict_layers:
            layers.append(DeepseekV3MTPLayer(c, c.num_hidden_layers))
        self.layers = nn.ModuleList(layers)
        self.norm = RMSNorm(c.hidden_size, c.rms_norm_eps)


class DeepseekV3ForCausalLM(nn.Module):
    def __init__(self, c: Config):
        super().__init__()
        self.config = c
        self.model = DeepseekV3Model(c)
        self.lm_head = nn.Linear(c.hidden_size, c.vocab_size, bias=False)
        if c.num_nextn_predict_layers:
            self.mtp.shared_head.head.weight = self.lm_head.weight  # shared output head
        inv_freq, self.softmax_scale = yarn_inv_freq(c)
        self.register_buffer("inv_freq", inv_freq, persistent=False)
        self.reset_parameters()

    @property
    def mtp(self) -> DeepseekV3MTPLayer | None:
        return self.model.layers[self.config.num_hidden_layers] if self.config.num_nextn_predict_layers else None

    def main_layers(self):
        return self.model.layers[: self.config.num_hidden_layers]

    def moe_layers(self):
        """(layer index, DeepseekV3MoE) for every MoE layer, the MTP layer's included."""
        return [(i, l.mlp) for i, l in enumerate(self.model.layers) if isinstance(l.mlp, DeepseekV3MoE)]

    def reset_parameters(self, std: float = 0.02):
        L = self.config.num_hidden_layers + self.config.num_nextn_predict_layers
        for name, p in self.named_parameters():
            if p.dim() == 1:
                nn.init.ones_(p)
            elif name.endswith(("o_proj.weight", "down_proj.weight")):
                nn.init.normal_(p, std=std / math.sqrt(2 * L))
            else:
                nn.init.normal_(p, std=std)

    def rope(self, pos):
        ang = pos.to(torch.float64)[..., None] * self.inv_freq.to(pos.device)
        return ang.cos(), ang.sin()

    def forward(self, tokens, pos, mask, mtp: bool = False):
        """tokens, pos [B,S]; mask bool [B,1,S,S] (True = attend). Returns logits [B,S,V], and with mtp=True also the
        MTP logits [B,S-1,V] at positions 0..S-2 (from the normed hidden state at t and token t+1) and the normed
        hidden states."""
        cos, sin = self.rope(pos)
        h = self.model.embed_tokens(tokens)
        for layer in self.main_layers():
            h = layer(h, cos, sin, mask, self.softmax_scale)
        hn = self.model.norm(h)
        logits = self.lm_head(hn)
        if not mtp or self.mtp is None:
            return logits
        m = self.mtp
        e = m.enorm(self.model.embed_tokens(tokens[:, 1:]))
        x = m.eh_proj(torch.cat((e, m.hnorm(hn[:, :-1])), dim=-1))
        x = m(x, cos[:, :-1], sin[:, :-1], mask[:, :, :-1, :-1], self.softmax_scale)
        mtp_logits = m.shared_head.head(m.shared_head.norm(x))
        return logits, mtp_logits, hn

    @torch.no_grad()
    def generate(self, prompts: list[list[int]], max_new: int, eos: int, pad: int = 1):
        """Greedy decoding with a key/value cache; prompts left-padded. Returns the new tokens of each prompt
        (stopping after eos)."""
        dev = self.lm_head.weight.device
        B, P = len(prompts), max(len(p) for p in prompts)
        toks = torch.full((B, P), pad, dtype=torch.long, device=dev)
        valid = torch.zeros((B, P), dtype=torch.bool, device=dev)
        for i, p in enumerate(prompts):
            toks[i, P - len(p):] = torch.tensor(p, device=dev)
            valid[i, P - len(p):] = True
        pos = (valid.long().cumsum(1) - 1).clamp(min=0)
        causal = torch.ones(P, P, dtype=torch.bool, device=dev).tril()
        eye = torch.eye(P, dtype=torch.bool, device=dev)
        mask = ((causal[None] & valid[:, None, :]) | eye[None])[:, None]
        caches = [dict() for _ in self.main_layers()]
        out = torch.full((B, max_new), pad, dtype=torch.long, device=dev)
        done = torch.zeros(B, dtype=torch.bool, device=dev)
        x, xpos = toks, pos
        for step in range(max_new):
            cos, sin = self.rope(xpos)
            h = self.model.embed_tokens(x)
            for layer, cache in zip(self.main_layers(), caches):
                h = layer(h, cos, sin, mask, self.softmax_scale, cache)
            nxt = self.lm_head(self.model.norm(h[:, -1])).argmax(-1)
            nxt = torch.where(done, torch.full_like(nxt, pad), nxt)
            out[:, step] = nxt
            done |= nxt == eos
            if bool(done.all()):
                out = out[:, : step + 1]
                break
            valid = torch.cat((valid, torch.ones(B, 1, dtype=torch.bool, device=dev)), 1)
            mask = valid[:, None, None, :]
            x, xpos = nxt[:, None], xpos[:, -1:] + 1
        res = []
        for row in out.tolist():
            r = []
            for t in row:
                r.append(t)
                if t == eos:
                    break
            res.append(r)
        return res


def doc_mask(doc):
    """Block-diagonal causal mask [B,1,S,S] from per-token document numbers [B,S]."""
    S = doc.shape[1]
    causal = torch.ones(S, S, dtype=torch.bool, device=doc.device).tril()
    return ((doc[:, :, None] == doc[:, None, :]) & causal)[:, None]


def export_state_dict(model: DeepseekV3ForCausalLM) -> dict[str, torch.Tensor]:
    """The checkpoint's tensors by Hugging Face name. The MTP layer's shared_head.head is the main lm_head
    (DeepSeek-V3 shares it) and is left out, as is an MTP copy of the embedding; readers fall back to the main ones."""
    sd = {}
    L = model.config.num_hidden_layers
    for k, v in model.state_dict().items():
        if k == f"model.layers.{L}.shared_head.head.weight":
            continue
        sd[k] = v
    return sd
