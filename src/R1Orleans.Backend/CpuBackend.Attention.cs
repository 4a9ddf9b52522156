using System.Buffers;
using System.Numerics.Tensors;

namespace R1Orleans.Backend;

/// <summary>
/// CpuBackend's attention kernels: naive (prefill) and absorbed (latent, decode) MLA, each tiled (the default) or the
/// per-head reference (<see cref="AttentionKernel.PerHead"/>).
/// </summary>
public sealed unsafe partial class CpuBackend
{
    public void Attention(in AttentionProblem p)
    {
        CheckCausal(p.FirstQueryPosition, p.Queries, p.Keys);
        if (_attentionKernel == AttentionKernel.Tiled)
        {
            TiledAttention(p);
            return;
        }

        PerHeadAttention(p);
    }

    /// <summary>
    /// Naive (prefill) attention per head as two GEMMs over blocks of queries: scores = Q_h · K_hᵀ with the register-tiled
    /// DotKernels (keys [k_nope | k_rope] copied contiguous once per head), softmax over each query's causal prefix (the
    /// rest of the block's row set to zero), then probabilities × V_h with WeightedSumKernels reading V in place.
    /// </summary>
    private void TiledAttention(in AttentionProblem p)
    {
        const int QueryBlock = 64;
        int width = p.NopeDim + p.RopeDim;
        int qStride = p.Heads * width;
        int kvStride = p.Heads * (p.NopeDim + p.VDim);
        fixed (float* pq = p.Q, pkv = p.KeyValue, pkr = p.KeyRope, po = p.Output)
        {
            nint aq = (nint)pq, akv = (nint)pkv, akr = (nint)pkr, ao = (nint)po;
            int queries = p.Queries, keys = p.Keys, first = p.FirstQueryPosition, heads = p.Heads;
            int nope = p.NopeDim, rope = p.RopeDim, vd = p.VDim, krStride = p.KeyRopeStride, krOff = p.KeyRopeOffset;
            float scale = p.Scale;
            void Head(int h)
            {
                float* q = (float*)aq, kv = (float*)akv, kr = (float*)akr, o = (float*)ao;
                ArrayPool<float> pool = ArrayPool<float>.Shared;
                float[] kRent = pool.Rent(keys * width), qRent = pool.Rent(QueryBlock * width), sRent = pool.Rent(QueryBlock * keys);
                fixed (float* k = kRent, qh = qRent, scores = sRent)
                {
                    for (int u = 0; u < keys; u++)
                    {
                        new ReadOnlySpan<float>(kv + ((long)u * kvStride) + (h * (nope + vd)), nope).CopyTo(new Span<float>(k + ((long)u * width), nope));
                        new ReadOnlySpan<float>(kr + ((long)u * krStride) + krOff, rope).CopyTo(new Span<float>(k + ((long)u * width) + nope, rope));
                    }

                    for (int i0 = 0; i0 < queries; i0 += QueryBlock)
                    {
                        int rows = Math.Min(QueryBlock, queries - i0);
                        int span = first + i0 + rows; // keys the block's last query sees
                        for (int r = 0; r < rows; r++)
                        {
                            new ReadOnlySpan<float>(q + ((long)(i0 + r) * qStride) + (h * width), width).CopyTo(new Span<float>(qh + ((long)r * width), width));
                        }

                        DotKernels.Rows(qh, rows, k, width, 0, span, scores, span);
                        for (int r = 0; r < rows; r++)
                        {
                            int count = first + i0 + r + 1;
                            var row = new Span<float>(scores + ((long)r * span), span);
                            TensorPrimitives.Multiply(row[..count], scale, row[..count]);
                            TensorPrimitives.SoftMax(row[..count], row[..count]);
                            row[count..].Clear();
                        }

                        WeightedSumKernels.Rows(scores, rows, span, span, kv + (h * (nope + vd)) + nope, kvStride, null, 0, vd, o + ((long)i0 * heads * vd) + (h * vd), heads * vd);
                    }
                }

                pool.Return(kRent);
                pool.Return(qRent);
                pool.Return(sRent);
            }

            RunHeads(heads, (long)queries * keys * heads * (width + vd), Head);
        }
    }

    /// <summary>The reference naive attention: per head and query, one dot product and one multiply-add per key.</summary>
    private void PerHeadAttention(in AttentionProblem p)
    {
        int qStride = p.Heads * (p.NopeDim + p.RopeDim);
        int kvStride = p.Heads * (p.NopeDim + p.VDim);
        fixed (float* pq = p.Q, pkv = p.KeyValue, pkr = p.KeyRope, po = p.Output)
        {
            nint aq = (nint)pq, akv = (nint)pkv, akr = (nint)pkr, ao = (nint)po;
            int queries = p.Queries, keys = p.Keys, first = p.FirstQueryPosition, heads = p.Heads;
            int nope = p.NopeDim, rope = p.RopeDim, vd = p.VDim, krStride = p.KeyRopeStride, krOff = p.KeyRopeOffset;
            float scale = p.Scale;
            void Head(int h)
            {
                float* q = (float*)aq, kv = (float*)akv, kr = (float*)akr, o = (float*)ao;
                var scores = new float[keys];
                for (int i = 0; i < queries; i++)
                {
                    int count = first + i + 1;
                    var qn = new ReadOnlySpan<float>(q + ((long)i * qStride) + (h * (nope + rope)), nope);
                    var qr = new ReadOnlySpan<float>(q + ((long)i * qStride) + (h * (nope + rope)) + nope, rope);
                    for (int u = 0; u < count; u++)
                    {
                        var kn = new ReadOnlySpan<float>(kv + ((long)u * kvStride) + (h * (nope + vd)), nope);
                        var krr = new ReadOnlySpan<float>(kr + ((long)u * krStride) + krOff, rope);
                        scores[u] = (TensorPrimitives.Dot(qn, kn) + TensorPrimitives.Dot(qr, krr)) * scale;
                    }

                    Span<float> sc = scores.AsSpan(0, count);
                    TensorPrimitives.SoftMax(sc, sc);
                    var outRow = new Span<float>(o + ((long)i * heads * vd) + (h * vd), vd);
                    outRow.Clear();
                    for (int u = 0; u < count; u++)
                    {
                        var v = new ReadOnlySpan<float>(kv + ((long)u * kvStride) + (h * (nope + vd)) + nope, vd);
                        TensorPrimitives.MultiplyAdd(v, sc[u], outRow, outRow);
                    }
                }
            }

            RunHeads(heads, (long)queries * keys * heads * (nope + rope + vd), Head);
        }
    }

    /// <summary>
    /// Absorbed MLA is multi-query attention: every head attends over the same latent rows. So per query the scores of
    /// all heads are one small GEMM against the latents (each latent row read once for all heads, not once per head),
    /// softmax per head, and the weighted sum another (<see cref="WeightedSumKernels"/>). Large problems split the heads
    /// into blocks across threads; a head's arithmetic is the same whatever the split.
    /// </summary>
    public void LatentAttention(in LatentAttentionProblem p)
    {
        int width = p.LatentDim + p.RopeDim;
        CheckCausal(p.FirstQueryPosition, p.Queries, p.Keys);
        bool paged = !p.BlockTable.IsEmpty;
        CheckLatents(p, width, paged);
        if (_attentionKernel == AttentionKernel.PerHead)
        {
            PerHeadLatentAttention(p, width, paged);
            return;
        }

        fixed (float* pq = p.Q, pl = p.Latent, po = p.Output)
        fixed (int* pt = p.BlockTable)
        {
            nint aq = (nint)pq, al = (nint)pl, ao = (nint)po, at = (nint)pt;
            int bs = p.BlockSize;
            int queries = p.Queries, keys = p.Keys, first = p.FirstQueryPosition, heads = p.Heads, latent = p.LatentDim;
            float scale = p.Scale;
            long work = (long)queries * keys * heads * (width + latent);
            int blocks = work < AttentionParallelThreshold ? 1 : Math.Min(_threads, (heads + 3) / 4);
            int perBlock = (((heads + blocks - 1) / blocks) + 3) & ~3;
            void Block(int b)
            {
                int h0 = b * perBlock;
                int rows = Math.Min(heads, h0 + perBlock) - h0;
                if (rows <= 0)
                {
                    return;
                }

                float* q = (float*)aq, lat = (float*)al, o = (float*)ao;
                int* table = paged ? (int*)at : null;
                float[] rented = System.Buffers.ArrayPool<float>.Shared.Rent(rows * keys);
                fixed (float* scores = rented)
                {
                    for (int i = 0; i < queries; i++)
                    {
                        int count = first + i + 1;
                        float* qi = q + ((((long)i * heads) + h0) * width);
                        if (table is null)
                        {
                            DotKernels.Rows(qi, rows, lat, width, 0, count, scores, count);
                        }
                        else
                        {
                            for (int u0 = 0, page = 0; u0 < count; u0 += bs, page++)
                            {
                                DotKernels.Rows(qi, rows, lat + ((long)table[page] * bs * width), width, 0, Math.Min(bs, count - u0), scores + u0, count);
                            }
                        }
                        for (int h = 0; h < rows; h++)
                        {
                            var row = new Span<float>(scores + ((long)h * count), count);
                            TensorPrimitives.Multiply(row, scale, row);
                            TensorPrimitives.SoftMax(row, row);
                        }

                        WeightedSumKernels.Rows(scores, rows, count, count, lat, width, table, bs, latent, o + ((((long)i * heads) + h0) * latent), latent);
                    }
                }

                System.Buffers.ArrayPool<float>.Shared.Return(rented);
            }

            if (blocks == 1)
            {
                Block(0);
            }
            else
            {
                Parallel.For(0, blocks, new ParallelOptions { MaxDegreeOfParallelism = _threads }, Block);
            }
        }
    }

    /// <summary>
    /// The reference: the latents copied out of their pages into one array, then per head and query one dot product
    /// per key and one multiply-add per key (each head reads every latent row again). Kept to check and time the tiled
    /// kernel against.
    /// </summary>
    private void PerHeadLatentAttention(in LatentAttentionProblem p, int width, bool paged)
    {
        float[] contiguous = new float[p.Keys * width];
        for (int u = 0; u < p.Keys; u++)
        {
            int row = paged ? (p.BlockTable[u / p.BlockSize] * p.BlockSize) + (u % p.BlockSize) : u;
            p.Latent.Slice(row * width, width).CopyTo(contiguous.AsSpan(u * width, width));
        }

        fixed (float* pq = p.Q, pl = contiguous, po = p.Output)
        {
            nint aq = (nint)pq, al = (nint)pl, ao = (nint)po;
            int queries = p.Queries, keys = p.Keys, first = p.FirstQueryPosition, heads = p.Heads, latent = p.LatentDim;
            float scale = p.Scale;
            void Head(int h)
            {
                float* q = (float*)aq, lat = (float*)al, o = (float*)ao;
                var scores = new float[keys];
                for (int i = 0; i < queries; i++)
                {
                    int count = first + i + 1;
                    var qh = new ReadOnlySpan<float>(q + ((((long)i * heads) + h) * width), width);
                    for (int u = 0; u < count; u++)
                    {
                        scores[u] = TensorPrimitives.Dot(qh, new ReadOnlySpan<float>(lat + ((long)u * width), width)) * scale;
                    }

                    Span<float> sc = scores.AsSpan(0, count);
                    TensorPrimitives.SoftMax(sc, sc);
                    var outRow = new Span<float>(o + ((((long)i * heads) + h) * latent), latent);
                    outRow.Clear();
                    for (int u = 0; u < count; u++)
                    {
                        TensorPrimitives.MultiplyAdd(new ReadOnlySpan<float>(lat + ((long)u * width), latent), sc[u], outRow, outRow);
                    }
                }
            }

            RunHeads(heads, (long)queries * keys * heads * (width + latent), Head);
        }
    }

    private static void CheckLatents(in LatentAttentionProblem p, int width, bool paged)
    {
        if (p.Q.Length < (long)p.Queries * p.Heads * width || p.Output.Length < (long)p.Queries * p.Heads * p.LatentDim)
        {
            throw new ArgumentException($"latent attention: Q holds {p.Q.Length}, output {p.Output.Length} values for {p.Queries} queries × {p.Heads} heads of width {width}");
        }

        if (!paged)
        {
            if (p.Latent.Length < (long)p.Keys * width)
            {
                throw new ArgumentException($"latent attention: {p.Latent.Length} latent values for {p.Keys} keys of width {width}");
            }

            return;
        }

        if (p.BlockSize <= 0 || (long)p.BlockTable.Length * p.BlockSize < p.Keys)
        {
            throw new ArgumentException($"latent attention: {p.BlockTable.Length} blocks of {p.BlockSize} cannot hold {p.Keys} keys");
        }

        long poolRows = p.Latent.Length / width;
        int used = (p.Keys + p.BlockSize - 1) / p.BlockSize;
        for (int b = 0; b < used; b++)
        {
            if (p.BlockTable[b] < 0 || ((long)p.BlockTable[b] + 1) * p.BlockSize > poolRows)
            {
                throw new ArgumentException($"latent attention: block {p.BlockTable[b]} is outside the pool of {poolRows / p.BlockSize} blocks");
            }
        }
    }

    private void RunHeads(int heads, long work, Action<int> head)
    {
        if (work < AttentionParallelThreshold || heads == 1)
        {
            for (int h = 0; h < heads; h++)
            {
                head(h);
            }
        }
        else
        {
            Parallel.For(0, heads, new ParallelOptions { MaxDegreeOfParallelism = _threads }, head);
        }
    }

    private static void CheckCausal(int first, int queries, int keys)
    {
        if (first < 0 || first + queries > keys)
        {
            throw new ArgumentException($"attention: queries at positions {first}..{first + queries - 1} need keys up to {first + queries}, have {keys}");
        }
    }
}
