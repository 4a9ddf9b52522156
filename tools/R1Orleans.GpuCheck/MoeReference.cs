using R1Orleans.Backend;
using R1Orleans.Checkpoint;
using R1Orleans.Cuda;
using R1Orleans.Model;

namespace R1Orleans.GpuCheck;

/// <summary>
/// The CPU reference for one MoE decode step: each active expert's row-major FP8 weights are read back from the GPU, dequantized
/// as the checkpoint reader does (e4m3 table, then the 128x128 block scales), run through the model's
/// <see cref="FeedForward"/> on <see cref="CpuBackend"/>, and combined per token as Σ weight · expert output in slot order.
/// </summary>
public static class MoeReference
{
    private static readonly Fp8Quantization s_blocks = new("e4m3", 128, 128);

    public static float[] Compute(MoeFp8Experts moe, MoeWeights weightsRowMajor, ReadOnlySpan<float> x, int[] ids, float[] weights, int tokens)
    {
        int h = moe.Hidden, inter = moe.Intermediate, k = moe.TopK;
        float[] xs = x.ToArray();
        var byExpert = new Dictionary<int, List<(int Token, int Slot)>>();
        for (int i = 0; i < tokens * k; i++)
        {
            if (!byExpert.TryGetValue(ids[i], out List<(int, int)>? list))
            {
                byExpert[ids[i]] = list = [];
            }

            list.Add((i / k, i));
        }

        // Download on this thread (the context is current here), compute in parallel.
        var slotOut = new float[tokens * k][];
        int[] experts = byExpert.Keys.Order().ToArray();
        const int Batch = 16;
        for (int b0 = 0; b0 < experts.Length; b0 += Batch)
        {
            int[] batch = experts.Skip(b0).Take(Batch).ToArray();
            var raw = batch.Select(e => Download(moe, weightsRowMajor, e)).ToArray();
            Parallel.For(0, batch.Length, bi =>
            {
                FeedForward ffn = Dequantize(raw[bi], h, inter);
                List<(int Token, int Slot)> rows = byExpert[batch[bi]];
                var xe = new float[rows.Count * h];
                for (int r = 0; r < rows.Count; r++)
                {
                    xs.AsSpan(rows[r].Token * h, h).CopyTo(xe.AsSpan(r * h));
                }

                var ye = new float[rows.Count * h];
                ffn.Forward(new CpuBackend(threads: 1), xe, rows.Count, ye);
                for (int r = 0; r < rows.Count; r++)
                {
                    slotOut[rows[r].Slot] = ye.AsSpan(r * h, h).ToArray();
                }
            });
        }

        var output = new float[tokens * h];
        for (int t = 0; t < tokens; t++)
        {
            Span<float> o = output.AsSpan(t * h, h);
            for (int j = 0; j < k; j++)
            {
                float w = weights[(t * k) + j];
                float[] y = slotOut[(t * k) + j];
                for (int c = 0; c < h; c++)
                {
                    o[c] += w * y[c];
                }
            }
        }

        return output;
    }

    private static (byte[] W13, float[] S13, byte[] W2, float[] S2) Download(MoeFp8Experts moe, MoeWeights rowMajor, int e)
    {
        long h = moe.Hidden, inter = moe.Intermediate;
        var w13 = new byte[2 * inter * h];
        var w2 = new byte[h * inter];
        var s13 = new float[2 * inter / 128 * (h / 128)];
        var s2 = new float[h / 128 * (inter / 128)];
        rowMajor.W13RowMajor.Download<byte>(w13, e * w13.LongLength);
        rowMajor.W2RowMajor.Download<byte>(w2, e * w2.LongLength);
        moe.S13.Download<float>(s13, e * s13.LongLength * 4);
        moe.S2.Download<float>(s2, e * s2.LongLength * 4);
        return (w13, s13, w2, s2);
    }

    private static FeedForward Dequantize((byte[] W13, float[] S13, byte[] W2, float[] S2) raw, int h, int inter)
    {
        float[] w13 = new float[raw.W13.Length];
        Fp8BlockDequantizer.Dequantize(raw.W13, 2 * inter, h, raw.S13, s_blocks, w13);
        float[] w2 = new float[raw.W2.Length];
        Fp8BlockDequantizer.Dequantize(raw.W2, h, inter, raw.S2, s_blocks, w2);
        var gate = new Matrix(inter, h, w13.AsSpan(0, inter * h).ToArray());
        var up = new Matrix(inter, h, w13.AsSpan(inter * h, inter * h).ToArray());
        return new FeedForward(gate, up, new Matrix(h, inter, w2));
    }
}
