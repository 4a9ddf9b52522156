namespace R1Orleans.GpuCheck;

/// <summary>
/// The CPU reference for MLA absorbed decode, in float64 over the same bf16 inputs the GPU reads:
/// out[b, h] = Σ_u softmax_u(scale · q[b, h] · row(u)) · row(u)[0:512] over the sequence's first seqlen[b] cache rows,
/// a row found through the block table (page table[b, u / 64], slot u % 64).
/// </summary>
public static class MlaDecodeReference
{
    /// <summary>bf16 bits to float (exact).</summary>
    public static float Bf16ToFloat(ushort bits) => BitConverter.UInt32BitsToSingle((uint)bits << 16);

    /// <summary>float to bf16 bits, round to nearest even (NaN stays NaN).</summary>
    public static ushort FloatToBf16(float f)
    {
        uint u = BitConverter.SingleToUInt32Bits(f);
        if (float.IsNaN(f))
        {
            return 0x7FC0;
        }

        return (ushort)((u + 0x7FFFu + ((u >> 16) & 1u)) >> 16);
    }

    /// <summary>
    /// q [batch, heads, 576] and cache [pages, blockSize, 576] as bf16 bits; returns [batch, heads, 512] (float64 math,
    /// float results). <paramref name="heads"/> may be a subset: only heads in <paramref name="onlyHeads"/> when given (others 0).
    /// </summary>
    public static float[] Compute(ushort[] q, ushort[] cache, int[] blockTable, int[] seqLens, int batch, int heads, int maxPages, float scale, int[]? onlyHeads = null, int blockSize = 64)
    {
        const int D = 576, Dv = 512;
        var output = new float[batch * heads * Dv];
        int[] hs = onlyHeads ?? Enumerable.Range(0, heads).ToArray();
        Parallel.For(0, batch * hs.Length, job =>
        {
            int b = job / hs.Length, h = hs[job % hs.Length];
            int n = seqLens[b];
            var qd = new double[D];
            for (int i = 0; i < D; i++)
            {
                qd[i] = Bf16ToFloat(q[(((long)b * heads) + h) * D + i]);
            }

            var scores = new double[n];
            double max = double.NegativeInfinity;
            for (int u = 0; u < n; u++)
            {
                long row = (((long)blockTable[(b * maxPages) + (u / blockSize)] * blockSize) + (u % blockSize)) * D;
                double s = 0;
                for (int i = 0; i < D; i++)
                {
                    s += qd[i] * Bf16ToFloat(cache[row + i]);
                }

                scores[u] = s * scale;
                max = Math.Max(max, scores[u]);
            }

            var acc = new double[Dv];
            double sum = 0;
            for (int u = 0; u < n; u++)
            {
                double p = Math.Exp(scores[u] - max);
                sum += p;
                long row = (((long)blockTable[(b * maxPages) + (u / blockSize)] * blockSize) + (u % blockSize)) * D;
                for (int i = 0; i < Dv; i++)
                {
                    acc[i] += p * Bf16ToFloat(cache[row + i]);
                }
            }

            for (int i = 0; i < Dv; i++)
            {
                output[((((long)b * heads) + h) * Dv) + i] = (float)(acc[i] / sum);
            }
        });
        return output;
    }
}
