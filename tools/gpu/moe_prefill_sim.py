#!/usr/bin/env python3
"""Lane-by-lane CPU emulation of kernels/moe_prefill.cu (pure Python, no GPU): moe_pack_tiles' layout, the tile
schedule, the cp.async stage layout (A units, B units with their token/k mapping and zero fill), the ld.shared.v4
fragment reads, e4m3 -> f16, the m16n8k16 fragment semantics (PTX ISA), the per-chunk promotion, the fused SiLU x up
epilogue and the down epilogue, then moe_combine; compared with a float64 reference of the same layer.
Catches index mistakes before device time is spent:  python3 tools/gpu/moe_prefill_sim.py [--break-b]"""
import math, random, struct, sys

def e4m3(b):
    s = -1.0 if b & 0x80 else 1.0
    e, m = (b >> 3) & 15, b & 7
    return s * (m / 8.0 * 2.0 ** -6 if e == 0 else (1 + m / 8.0) * 2.0 ** (e - 7))

def f16(x):
    return struct.unpack('e', struct.pack('e', x))[0]

def pack_tiles(w, experts, rows, cols):  # moe_pack_tiles, unit by unit (16 bytes)
    out = [0] * (experts * rows * cols)
    chunks = cols // 128
    for u in range(experts * rows * cols // 16):
        lane, v, tile = u % 32, (u // 32) % 4, u // 128
        c, rt = tile % chunks, tile // chunks
        row = rt * 16 + 8 * (v >> 1) + (lane >> 2)
        col = c * 128 + 32 * (lane & 3) + 16 * (v & 1)
        out[16 * u:16 * u + 16] = w[row * cols + col:row * cols + col + 16]
    return out

def mma(d, a, b):
    """d[lane][4] += A.B with PTX m16n8k16 fragments: a[lane] = 4 pairs, b[lane] = 2 pairs (values)."""
    A = [[0.0] * 16 for _ in range(16)]
    B = [[0.0] * 8 for _ in range(16)]
    for lane in range(32):
        g, q = lane >> 2, lane & 3
        for r, (row, col) in enumerate([(g, 2 * q), (g + 8, 2 * q), (g, 2 * q + 8), (g + 8, 2 * q + 8)]):
            A[row][col], A[row][col + 1] = a[lane][r]
        for r, k in enumerate([2 * q, 2 * q + 8]):
            B[k][g], B[k + 1][g] = b[lane][r]
    for lane in range(32):
        g, q = lane >> 2, lane & 3
        for i, (row, col) in enumerate([(g, 2 * q), (g, 2 * q + 1), (g + 8, 2 * q), (g + 8, 2 * q + 1)]):
            d[lane][i] += sum(A[row][k] * B[k][col] for k in range(16))

class Cfg:
    def __init__(self, MT, NT, WM, WN, STAGES):
        self.MT, self.NT, self.WM, self.WN, self.STAGES = MT, NT, WM, WN, STAGES
        self.threads = 32 * WM * WN
        self.tilesA, self.BN = WM * MT, 8 * NT * WN
        self.stageA, self.stage = self.tilesA * 2048, self.tilesA * 2048 + self.BN * 256
        self.unitsA = self.tilesA * 128 // self.threads
        self.tpt = self.threads // self.BN
        self.unitsB = 16 // self.tpt
        assert self.tilesA * 16 == 128

def schedule(meta, E, bn):
    sched = []
    for a in range(meta[2 * E + 1]):
        e = meta[E + 1 + a]
        for i in range((meta[e + 1] - meta[e] + bn - 1) // bn):
            sched.append((e, i * bn))
    return sched

def cta(cfg, kb, we, a_tile_of, b_row_of, count, scale0_of, scale1_of, break_b):
    """One CTA: returns acc[warp][m][j][lane][4]. we: packed bytes of the expert; a_tile_of(t); b_row_of(n) -> f16 list
    (the token's row) or None; scale*_of(warp_m, c)."""
    smem_a = [[0] * cfg.stageA for _ in range(cfg.STAGES)]
    smem_b = [[0.0] * (cfg.BN * 128) for _ in range(cfg.STAGES)]  # f16 values; unit u = elements 8u .. 8u + 7

    def issue(stage, c):
        for tid in range(cfg.threads):
            for i in range(cfg.unitsA):
                u = tid + i * cfg.threads
                src = (a_tile_of(u >> 7) * kb + c) * 2048 + (u & 127) * 16
                smem_a[stage][16 * u:16 * u + 16] = we[src:src + 16]
            n, w0 = tid // cfg.tpt, (tid % cfg.tpt) * cfg.unitsB
            row = b_row_of(n) if n < count else None
            for i in range(cfg.unitsB):
                w = w0 + i
                unit = ((n >> 3) * 4 + (w & 3)) * 32 + (n & 7) * 4 + (w >> 2)
                if break_b:
                    unit = ((n >> 3) * 4 + (w >> 2)) * 32 + (n & 7) * 4 + (w & 3)
                vals = row[c * 128 + 8 * w:c * 128 + 8 * w + 8] if row is not None else [0.0] * 8
                smem_b[stage][8 * unit:8 * unit + 8] = vals

    warps = cfg.WM * cfg.WN
    acc = [[[[[0.0] * 4 for _ in range(32)] for _ in range(cfg.NT)] for _ in range(cfg.MT)] for _ in range(warps)]
    stages_of = {}
    for c in range(kb):  # the ring: chunk c in stage c % STAGES (issue order as the kernel's)
        issue(c % cfg.STAGES, c)
        st = c % cfg.STAGES
        for warp in range(warps):
            wm, wn = warp % cfg.WM, warp // cfg.WM
            valid = (count - wn * cfg.NT * 8 + 7) // 8 if count - wn * cfg.NT * 8 + 7 >= 0 else -1
            if valid <= 0:
                continue
            nv = cfg.NT if valid > cfg.NT // 2 else (cfg.NT // 2 if valid > cfg.NT // 4 else cfg.NT // 4)
            a_base, b_base = wm * cfg.MT * 2048, wn * cfg.NT * 2048 // 16  # b_base in units
            tmp = [[[[0.0] * 4 for _ in range(32)] for _ in range(cfg.NT)] for _ in range(cfg.MT)]
            for h in range(2):
                for m in range(cfg.MT):
                    for s in range(4):
                        a = []
                        for lane in range(32):
                            r0 = smem_a[st][a_base + m * 2048 + (h * 32 + lane) * 16:][:16]
                            r1 = smem_a[st][a_base + m * 2048 + ((2 + h) * 32 + lane) * 16:][:16]
                            w0, w1 = r0[4 * s:4 * s + 4], r1[4 * s:4 * s + 4]
                            a.append([(e4m3(w0[0]), e4m3(w0[1])), (e4m3(w1[0]), e4m3(w1[1])),
                                      (e4m3(w0[2]), e4m3(w0[3])), (e4m3(w1[2]), e4m3(w1[3]))])
                        for j in range(nv):
                            b = []
                            for lane in range(32):
                                u0 = smem_b[st][8 * (b_base + j * 128 + (2 * h) * 32 + lane):][:8]
                                u1 = smem_b[st][8 * (b_base + j * 128 + (2 * h + 1) * 32 + lane):][:8]
                                words = u0 + u1  # 16 f16: word k = values 2k, 2k + 1
                                b.append([(words[4 * s], words[4 * s + 1]), (words[4 * s + 2], words[4 * s + 3])])
                            mma(tmp[m][j], a, b)
            for m in range(cfg.MT):
                sc = scale0_of(wm, c) if m < cfg.MT // 2 else scale1_of(wm, c)
                for j in range(nv):
                    for lane in range(32):
                        for i in range(4):
                            acc[warp][m][j][lane][i] += sc * tmp[m][j][lane][i]
    return acc

def run(cfg, E, H, I, T, K, seed, break_b=False):
    rnd = random.Random(seed)
    codes = [b for b in range(256) if b not in (0x7F, 0xFF)]
    w13 = [rnd.choice(codes) for _ in range(E * 2 * I * H)]
    w2 = [rnd.choice(codes) for _ in range(E * H * I)]
    s13 = [rnd.uniform(0.5e-2, 1.5e-2) for _ in range(E * (2 * I // 128) * (H // 128))]
    s2 = [rnd.uniform(0.5e-2, 1.5e-2) for _ in range(E * (H // 128) * (I // 128))]
    x = [[rnd.uniform(-1, 1) for _ in range(H)] for _ in range(T)]
    ids, tw = [], []
    for t in range(T):
        ids += rnd.sample(range(E), K)
        tw += [rnd.uniform(0.1, 1) for _ in range(K)]
    p13, p2 = pack_tiles(w13, E, 2 * I, H), pack_tiles(w2, E, H, I)
    # moe_prepare's grouping (any slot order inside an expert is valid; shuffled here)
    S = T * K
    counts = [ids.count(e) for e in range(E)]
    meta = [0] * (2 * E + 2)
    active = [e for e in range(E) if counts[e] > 0]
    off = 0
    for e in range(E):
        meta[e] = off
        off += counts[e]
    meta[E] = off
    for a, e in enumerate(active):
        meta[E + 1 + a] = e
    meta[2 * E + 1] = len(active)
    slot_token, slot_of = [0] * S, [0] * S
    cursor = meta[:E]
    order = list(range(S))
    rnd.shuffle(order)
    for i in order:
        slot = cursor[ids[i]]
        cursor[ids[i]] += 1
        slot_token[slot], slot_of[i] = i // K, slot
    x16 = [[f16(v) for v in row] for row in x]
    sched = schedule(meta, E, cfg.BN)
    kbg, kbd = H // 128, I // 128
    h16 = [[float('nan')] * I for _ in range(S)]
    y = [[float('nan')] * H for _ in range(S)]
    FW = cfg.MT // 2 * 16
    for fb in range(I // 64):  # gate_up grid (I / 64, tiles)
        for (e, t0) in sched:
            first = meta[e] + t0
            count = min(cfg.BN, meta[e + 1] - first)
            f_cta = fb * cfg.WM * FW

            def a_tile_of(t):
                wm, mt = t // cfg.MT, t % cfg.MT
                f = f_cta + wm * FW + (mt % (cfg.MT // 2)) * 16
                return (f if mt < cfg.MT // 2 else I + f) // 16
            we = p13[e * 2 * I * H:(e + 1) * 2 * I * H]
            se = s13[e * (2 * I // 128) * kbg:]
            acc = cta(cfg, kbg, we, a_tile_of, lambda n: x16[slot_token[first + n]], count,
                      lambda wm, c: se[((f_cta + wm * FW) // 128) * kbg + c],
                      lambda wm, c: se[((I + f_cta + wm * FW) // 128) * kbg + c], break_b)
            for warp in range(cfg.WM * cfg.WN):
                wm, wn = warp % cfg.WM, warp // cfg.WM
                for m in range(cfg.MT // 2):
                    for j in range(cfg.NT):
                        for lane in range(32):
                            g, q = lane >> 2, lane & 3
                            for i in range(4):
                                tok = wn * cfg.NT * 8 + 8 * j + 2 * q + (i & 1)
                                f = f_cta + wm * FW + 16 * m + g + 8 * (i >> 1)
                                if tok < count:
                                    gt, up = acc[warp][m][j][lane][i], acc[warp][m + cfg.MT // 2][j][lane][i]
                                    assert math.isnan(h16[first + tok][f]), "h16 written twice"
                                    h16[first + tok][f] = f16(gt / (1 + math.exp(-gt)) * up)
    assert not any(math.isnan(v) for row in h16 for v in row), "h16 not fully written"
    for rb in range(H // 128):  # down grid (H / 128, tiles)
        for (e, t0) in sched:
            first = meta[e] + t0
            count = min(cfg.BN, meta[e + 1] - first)
            r_cta = rb * 128
            we = p2[e * H * I:(e + 1) * H * I]
            sc = s2[e * (H // 128) * kbd + (r_cta // 128) * kbd:]
            acc = cta(cfg, kbd, we, lambda t: r_cta // 16 + t, lambda n: h16[first + n], count,
                      lambda wm, c: sc[c], lambda wm, c: sc[c], break_b)
            for warp in range(cfg.WM * cfg.WN):
                wm, wn = warp % cfg.WM, warp // cfg.WM
                for m in range(cfg.MT):
                    for j in range(cfg.NT):
                        for lane in range(32):
                            g, q = lane >> 2, lane & 3
                            for i in range(4):
                                tok = wn * cfg.NT * 8 + 8 * j + 2 * q + (i & 1)
                                r = r_cta + wm * cfg.MT * 16 + 16 * m + g + 8 * (i >> 1)
                                if tok < count:
                                    assert math.isnan(y[first + tok][r]), "y written twice"
                                    y[first + tok][r] = acc[warp][m][j][lane][i]
    assert not any(math.isnan(v) for row in y for v in row), "y not fully written"
    out = [[sum(tw[t * K + k] * y[slot_of[t * K + k]][c] for k in range(K)) for c in range(H)] for t in range(T)]
    # float64 reference: dequantized weights, float activations
    num = den = 0.0
    for t in range(T):
        ref = [0.0] * H
        for k in range(K):
            e = ids[t * K + k]
            hv = []
            for f in range(I):
                gu = []
                for r in (f, I + f):
                    acc = 0.0
                    for c in range(H):
                        acc += e4m3(w13[(e * 2 * I + r) * H + c]) * s13[e * (2 * I // 128) * kbg + (r // 128) * kbg + c // 128] * x[t][c]
                    gu.append(acc)
                hv.append(gu[0] / (1 + math.exp(-gu[0])) * gu[1])
            for r in range(H):
                acc = sum(e4m3(w2[(e * H + r) * I + f]) * s2[e * (H // 128) * kbd + (r // 128) * kbd + f // 128] * hv[f] for f in range(I))
                ref[r] += tw[t * K + k] * acc
        num += sum((a - b) ** 2 for a, b in zip(out[t], ref))
        den += sum(b * b for b in ref)
    return math.sqrt(num / den), [min(cfg.BN, meta[e + 1] - meta[e] - t0) for (e, t0) in sched]

if __name__ == '__main__':
    brk = '--break-b' in sys.argv
    worst = 0.0
    for (mt, nt, wm, wn, st) in [(4, 4, 2, 4, 4), (2, 8, 4, 2, 4), (4, 4, 2, 2, 3), (2, 8, 4, 1, 3)]:
        cfg = Cfg(mt, nt, wm, wn, st)
        # 3 experts, hidden 256, intermediate 128 (2 feature blocks, 2 row blocks), top-2: ~50-100 tokens per expert
        err, tiles = run(cfg, E=3, H=256, I=128, T=int(sys.argv[1]) if len(sys.argv) > 1 and sys.argv[1].isdigit() else 83, K=2, seed=mt * 10 + nt + wn, break_b=brk)
        worst = max(worst, err)
        print(f"m{mt}n{nt} w{wm}x{wn} s{st} (BN {cfg.BN}): tiles of {tiles} tokens, relative L2 error {err:.2e}", flush=True)
    print("PASS" if worst < 2e-3 else "FAIL", f"worst {worst:.2e} (tolerance 2e-3)")
    sys.exit(0 if worst < 2e-3 else 1)
