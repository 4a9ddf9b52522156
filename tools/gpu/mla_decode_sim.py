#!/usr/bin/env python3
# usage: python3 tools/gpu/mla_decode_sim.py SEQLENS SPLITS SCALE   e.g. 200,1,129 3 0.5 (64 heads, pure Python, seconds)
# Emulates kernels/mla_decode.cu (one CTA = 8 warps x 32 lanes) with ldmatrix/mma.sync fragment semantics, swizzled
# shared memory, masking and the online softmax, then the combine; compares with a float64 reference.
import math, random, struct, sys

def bf16(x):
    if math.isnan(x): return float('nan')
    u = struct.unpack('<I', struct.pack('<f', x))[0]
    u = ((u + 0x7FFF + ((u >> 16) & 1)) >> 16) << 16
    return struct.unpack('<f', struct.pack('<I', u & 0xFFFFFFFF))[0]

D, DV, UNITS, PAGE, HB, ROWB = 576, 512, 72, 64, 64, 1152
NINF = float('-inf')

def tile_off(r, u): return r * ROWB + ((u ^ (r & 7)) << 4)
def p_off(r, u): return r * 128 + ((u ^ (r & 7)) << 4)

class Smem:
    def __init__(s): s.m = {}
    def st(s, byte, v): s.m[byte] = v          # bf16 value at a 2-byte address
    def ld(s, byte): return s.m[byte]

def ldsm_x4(sm, addrs, trans=False):
    # addrs[lane]: row address (bytes) supplied by each lane; returns regs[lane] = [(lo, hi)] * 4
    regs = [[None] * 4 for _ in range(32)]
    for i in range(4):
        rows = [addrs[8 * i + r] for r in range(8)]
        for t in range(32):
            if not trans:
                a = rows[t // 4] + 2 * (2 * (t % 4))
                regs[t][i] = (sm.ld(a), sm.ld(a + 2))
            else:
                c = t // 4
                regs[t][i] = (sm.ld(rows[2 * (t % 4)] + 2 * c), sm.ld(rows[2 * (t % 4) + 1] + 2 * c))
    return regs

def mma(d, a, b0, b1):
    # d[lane] = [4 floats]; a[lane] = 4 (lo,hi) pairs; b0[lane], b1[lane] = (lo,hi)
    A = [[0.0] * 16 for _ in range(16)]
    B = [[0.0] * 8 for _ in range(16)]
    for t in range(32):
        g, q = t // 4, t % 4
        A[g][2 * q], A[g][2 * q + 1] = a[t][0]
        A[g + 8][2 * q], A[g + 8][2 * q + 1] = a[t][1]
        A[g][2 * q + 8], A[g][2 * q + 9] = a[t][2]
        A[g + 8][2 * q + 8], A[g + 8][2 * q + 9] = a[t][3]
        B[2 * q][g], B[2 * q + 1][g] = b0[t]
        B[2 * q + 8][g], B[2 * q + 9][g] = b1[t]
    for t in range(32):
        g, q = t // 4, t % 4
        for i in range(4):
            r = g + 8 * (i >> 1); c = 2 * q + (i & 1)
            d[t][i] += sum(A[r][k] * B[k][c] for k in range(16))

def load_tile(sm, base, src_rows, valid):
    for i in range(64 * UNITS):
        r, u = i // UNITS, i % UNITS
        for e in range(8):
            v = src_rows(r)[u * 8 + e] if r < valid else 0.0
            sm.st(base + tile_off(r, u) + 2 * e, v)

def cta(q, cache, table, seqlens, heads, max_pages, splits, scale, split, b, hblk, out, o_part, lse_part):
    h0 = hblk * HB
    seqlen = seqlens[b]
    pages = (seqlen + PAGE - 1) // PAGE
    per = (pages + splits - 1) // splits
    p0, p1 = split * per, min(pages, split * per + per)
    if p0 >= p1:
        for h in range(h0, h0 + HB):
            o_part[(b, h, split)] = [0.0] * DV; lse_part[(b, h, split)] = NINF
        return
    sm = Smem()
    SQ, SKV, SP = 0, ROWB * 64, ROWB * 64 * 3
    load_tile(sm, SQ, lambda r: q[b][h0 + r], 64)
    def page_rows(p): return lambda r: cache[table[b][p]][r]
    load_tile(sm, SKV, page_rows(p0), min(PAGE, seqlen - p0 * PAGE))
    sl2 = scale * 1.4426950408889634
    red = [0.0] * 128; alpha_s = [0.0] * 64; m_s = [0.0] * 64
    m_run = [[NINF, NINF] for _ in range(256)]; l_run = [[0.0, 0.0] for _ in range(256)]
    o = [[[[0.0] * 4 for _ in range(8)] for _ in range(4)] for _ in range(256)]  # per thread
    for p in range(p0, p1):
        if p + 1 < p1:
            load_tile(sm, SKV + ((p + 1 - p0) & 1) * 64 * ROWB, page_rows(p + 1), min(PAGE, seqlen - (p + 1) * PAGE))
        st = SKV + ((p - p0) & 1) * 64 * ROWB
        valid = min(PAGE, seqlen - p * PAGE)
        S = {}
        for warp in range(8):
            mi, ni = warp & 3, warp >> 2
            s = [[[0.0] * 4 for _ in range(4)] for _ in range(32)]  # [lane][j][i]
            for ks in range(D // 16):
                aad, b0ad, b1ad = [], [], []
                for lane in range(32):
                    a_row = (lane & 7) + (((lane >> 3) & 1) << 3); a_unit = lane >> 4
                    bs_row = (lane & 7) + ((lane >> 4) << 3); bs_unit = (lane >> 3) & 1
                    aad.append(SQ + tile_off(16 * mi + a_row, 2 * ks + a_unit))
                    b0ad.append(st + tile_off(32 * ni + bs_row, 2 * ks + bs_unit))
                    b1ad.append(st + tile_off(32 * ni + 16 + bs_row, 2 * ks + bs_unit))
                a = ldsm_x4(sm, aad); b0 = ldsm_x4(sm, b0ad); b1 = ldsm_x4(sm, b1ad)
                for j, (bb, x, y) in enumerate([(b0, 0, 1), (b0, 2, 3), (b1, 0, 1), (b1, 2, 3)]):
                    dj = [s[t][j] for t in range(32)]
                    mma(dj, a, [bb[t][x] for t in range(32)], [bb[t][y] for t in range(32)])
            # mask + rowmax
            for lane in range(32):
                g, qd = lane >> 2, lane & 3
                for j in range(4):
                    t = 32 * ni + 8 * j + 2 * qd
                    for i in range(4):
                        if t + (i & 1) >= valid: s[lane][j][i] = NINF
            for lane in range(32):
                g, qd = lane >> 2, lane & 3
                mx = [NINF, NINF]
                for l2 in range(4 * g, 4 * g + 4):   # lanes sharing g (shfl over q)
                    for j in range(4):
                        for i in range(4): mx[i >> 1] = max(mx[i >> 1], s[l2][j][i])
                if qd == 0:
                    srow = 16 * mi + g
                    red[ni * 64 + srow] = mx[0]; red[ni * 64 + srow + 8] = mx[1]
            S[warp] = s
        # barrier
        for warp in range(8):
            mi, ni = warp & 3, warp >> 2
            s = S[warp]
            lsums = {}
            for lane in range(32):
                g, qd = lane >> 2, lane & 3
                tid = warp * 32 + lane; srow = 16 * mi + g
                mnew = [0, 0]; alpha = [0, 0]
                for r in range(2):
                    row = srow + 8 * r
                    mnew[r] = max(m_run[tid][r], max(red[row], red[64 + row]))
                    ms = 0.0 if mnew[r] == NINF else mnew[r]
                    alpha[r] = 2.0 ** ((m_run[tid][r] - ms) * sl2) if m_run[tid][r] != NINF else 0.0
                    m_run[tid][r] = mnew[r]
                lsum = [0.0, 0.0]
                for j in range(4):
                    e = []
                    for i in range(4):
                        ms = 0.0 if mnew[i >> 1] == NINF else mnew[i >> 1]
                        v = 0.0 if s[lane][j][i] == NINF else 2.0 ** ((s[lane][j][i] - ms) * sl2)
                        e.append(v); lsum[i >> 1] += v
                    unit = 4 * ni + j; c = 4 * qd
                    sm.st(SP + p_off(srow, unit) + c, bf16(e[0])); sm.st(SP + p_off(srow, unit) + c + 2, bf16(e[1]))
                    sm.st(SP + p_off(srow + 8, unit) + c, bf16(e[2])); sm.st(SP + p_off(srow + 8, unit) + c + 2, bf16(e[3]))
                lsums[lane] = (lsum, alpha)
            for lane in range(32):
                g, qd = lane >> 2, lane & 3
                tid = warp * 32 + lane; srow = 16 * mi + g
                alpha = lsums[lane][1]
                for r in range(2):
                    tot = sum(lsums[l2][0][r] for l2 in range(4 * g, 4 * g + 4))
                    l_run[tid][r] = l_run[tid][r] * alpha[r] + tot
                if ni == 0 and qd == 0:
                    alpha_s[srow] = alpha[0]; alpha_s[srow + 8] = alpha[1]
        # barrier; PV
        for warp in range(8):
            for lane in range(32):
                g = lane >> 2; tid = warp * 32 + lane
                for a in range(4):
                    f0, f1 = alpha_s[16 * a + g], alpha_s[16 * a + g + 8]
                    for j in range(8):
                        o[tid][a][j][0] *= f0; o[tid][a][j][1] *= f0; o[tid][a][j][2] *= f1; o[tid][a][j][3] *= f1
            for kt in range(4):
                pa = []
                for a in range(4):
                    ad = []
                    for lane in range(32):
                        a_row = (lane & 7) + (((lane >> 3) & 1) << 3); a_unit = lane >> 4
                        ad.append(SP + p_off(16 * a + a_row, 2 * kt + a_unit))
                    pa.append(ldsm_x4(sm, ad))
                for jj in range(4):
                    ad = []
                    for lane in range(32):
                        bv_row = (lane & 7) + (((lane >> 3) & 1) << 3); bv_unit = lane >> 4
                        ad.append(st + tile_off(16 * kt + bv_row, 8 * warp + 2 * jj + bv_unit))
                    v = ldsm_x4(sm, ad, trans=True)
                    for a in range(4):
                        for (jn, x, y) in [(2 * jj, 0, 1), (2 * jj + 1, 2, 3)]:
                            d = [o[warp * 32 + t][a][jn] for t in range(32)]
                            mma(d, pa[a], [v[t][x] for t in range(32)], [v[t][y] for t in range(32)])
    # epilogue
    for warp in range(8):
        mi, ni = warp & 3, warp >> 2
        for lane in range(32):
            g, qd = lane >> 2, lane & 3; tid = warp * 32 + lane; srow = 16 * mi + g
            if qd == 0:
                red[ni * 64 + srow] = l_run[tid][0]; red[ni * 64 + srow + 8] = l_run[tid][1]
                if ni == 0: m_s[srow] = m_run[tid][0]; m_s[srow + 8] = m_run[tid][1]
    for warp in range(8):
        for lane in range(32):
            g, qd = lane >> 2, lane & 3; tid = warp * 32 + lane
            for a in range(4):
                for r in range(2):
                    row = 16 * a + g + 8 * r
                    l = red[row] + red[64 + row]; h = h0 + row
                    dst = out.setdefault((b, h), [None] * DV) if splits == 1 else o_part.setdefault((b, h, split), [None] * DV)
                    for j in range(8):
                        dd = 64 * warp + 8 * j + 2 * qd
                        dst[dd] = o[tid][a][j][2 * r] / l; dst[dd + 1] = o[tid][a][j][2 * r + 1] / l
                    if splits > 1 and warp == 0 and qd == 0:
                        lse_part[(b, h, split)] = m_s[row] * scale + math.log(l)

def combine(o_part, lse_part, b, h, splits):
    lse = [lse_part[(b, h, s)] for s in range(splits)]
    mx = max(lse)
    acc = [0.0] * DV; ws = 0.0
    for s in range(splits):
        w = 0.0 if lse[s] == NINF else math.exp(lse[s] - mx)
        if w == 0: continue
        for d in range(DV): acc[d] += w * o_part[(b, h, s)][d]
        ws += w
    return [x / ws for x in acc]

def reference(q, cache, table, seqlens, b, h, scale):
    n = seqlens[b]
    rows = [cache[table[b][u // PAGE]][u % PAGE] for u in range(n)]
    sc = [sum(x * y for x, y in zip(q[b][h], r)) * scale for r in rows]
    m = max(sc); p = [math.exp(x - m) for x in sc]; l = sum(p)
    return [sum(p[u] * rows[u][d] for u in range(n)) / l for d in range(DV)]

def main():
    rnd = random.Random(1)
    heads, seqlens, splits, scale = 64, [int(a) for a in sys.argv[1].split(',')], int(sys.argv[2]), float(sys.argv[3])
    batch = len(seqlens)
    max_pages = max((n + 63) // 64 for n in seqlens) + 1
    npages = sum((n + 63) // 64 for n in seqlens) + 1
    nanp = npages - 1
    cache = [[[bf16(rnd.uniform(-1, 1)) for _ in range(D)] for _ in range(PAGE)] for _ in range(npages)]
    cache[nanp] = [[float('nan')] * D for _ in range(PAGE)]
    order = list(range(npages - 1)); rnd.shuffle(order)
    table = []; k = 0
    for n in seqlens:
        pg = (n + 63) // 64; row = order[k:k + pg] + [nanp] * (max_pages - pg); k += pg; table.append(row)
        if n % 64: 
            for r in range(n % 64, 64): cache[row[pg - 1]][r] = [float('nan')] * D
    q = [[[bf16(rnd.uniform(-1, 1)) for _ in range(D)] for _ in range(heads)] for _ in range(batch)]
    out, o_part, lse_part = {}, {}, {}
    for b in range(batch):
        for split in range(splits):
            cta(q, cache, table, seqlens, heads, max_pages, splits, scale, split, b, 0, out, o_part, lse_part)
    worst = 0; num = 0; den = 0
    for b in range(batch):
        for h in [0, 5, 17, 31, 40, 63]:
            got = out[(b, h)] if splits == 1 else combine(o_part, lse_part, b, h, splits)
            want = reference(q, cache, table, seqlens, b, h, scale)
            for x, y in zip(got, want):
                if math.isnan(x): print("NaN at", b, h); return 1
                num += (x - y) ** 2; den += y * y; worst = max(worst, abs(x - y))
    print(f"seqlens {seqlens} splits {splits}: relL2 {math.sqrt(num / den):.3e}, max|d| {worst:.3e}")

main()
