using R1Orleans.Checkpoint;
using R1Orleans.Cuda;
using R1Orleans.Cuda.Forward;
using R1Orleans.Model;

namespace R1Orleans.GpuCheck;

/// <summary>
/// A model of any shape with random weights generated on the GPU (a full-width DeepSeek-V3 needs no 40 GB checkpoint):
/// every projection FP8 e4m3 with 128x128 block scales as V3 ships them, the embedding, lm_head, router and the absorbed
/// per-head matrices float32, as the device forward holds them. Scales keep each output near unit RMS. The routed
/// experts go to the fast FP8 kernels (<see cref="MoeFp8Experts"/>); with reference they also stay row-major for the
/// reference kernels, so both paths run on the same weights.
/// </summary>
public static class RandomDeviceWeights
{
    /// <summary>Random e4m3 codes (every code but NaN) have an RMS near this.</summary>
    private const float CodeRms = 110f;

    public static DeviceModelWeights Build(CudaContext context, KernelLibrary kernels, CudaStream stream, ModelConfig c, int seed, int maxTokens, bool reference)
    {
        var owned = new List<IDisposable>();
        var rng = new Random(seed);
        CudaKernel fillFp8 = kernels.Kernel("bench_util", "fill_fp8");
        CudaKernel fillUniform = kernels.Kernel("forward", "fill_uniform");
        int grid = context.MultiprocessorCount * 16;

        T Own<T>(T d) where T : IDisposable
        {
            owned.Add(d);
            return d;
        }

        void Uniform(ulong p, long count, float lo, float hi) => fillUniform.Launch(stream, grid, 256, 0, p, (ulong)count, (uint)rng.Next(), lo, hi);

        DeviceBuffer Floats(long count, float lo, float hi)
        {
            DeviceBuffer b = Own(context.Allocate(Math.Max(4, count * 4)));
            Uniform(b.Pointer, count, lo, hi);
            return b;
        }

        DeviceBuffer Dense(long rows, long cols) => Floats(rows * cols, -MathF.Sqrt(3f / cols), MathF.Sqrt(3f / cols));

        DeviceWeight Fp8(int rows, int cols)
        {
            long scales = DeviceWeight.ScaleCount(rows, cols, 128, 128);
            DeviceBuffer b = Own(context.Allocate(DeviceWeight.ScaleOffsetOf(rows, cols) + (scales * 4)));
            fillFp8.Launch(stream, grid, 256, 0, b, (ulong)((long)rows * cols / 4), (uint)rng.Next());
            var w = new DeviceWeight(b, rows, cols, true, 128, 128);
            float s = 1f / (CodeRms * MathF.Sqrt(cols));
            Uniform(w.ScalesPointer, scales, 0.5f * s, 1.5f * s);
            return w;
        }

        DeviceNorm Norm(int dim) => new(Floats(dim, 0.9f, 1.1f), dim, (float)c.RmsNormEps);
        DeviceFeedForward Ffn(int inter) => new(Fp8(inter, c.HiddenSize), Fp8(inter, c.HiddenSize), Fp8(c.HiddenSize, inter));

        try
        {
            int d = c.HiddenSize, heads = c.NumAttentionHeads, qWidth = c.QkHeadDim, kv = c.KvLoraRank, v = c.VHeadDim, e = c.NRoutedExperts, inter = c.MoeIntermediateSize;
            DeviceBuffer? w13 = null, w2 = null;
            MoeScratch? scratch = null;
            var layers = new List<DeviceLayer>();
            for (int l = 0; l < c.NumHiddenLayers; l++)
            {
                var attention = new DeviceAttention(
                    c.QLoraRank is int q ? Fp8(q, d) : null,
                    c.QLoraRank is int q2 ? Norm(q2) : null,
                    Fp8(heads * qWidth, c.QLoraRank ?? d),
                    Fp8(kv + c.QkRopeHeadDim, d),
                    Norm(kv),
                    Fp8(d, heads * v),
                    Dense((long)heads * kv, c.QkNopeHeadDim),
                    Dense((long)heads * v, kv));
                DeviceMoe? moe = null;
                if (c.IsMoeLayer(l))
                {
                    // One shared expert of the routed experts' shape also gets a slot of its own in the fast experts'
                    // weights, so that the fast forward can run it inside the routed step (SharedExpertInRoutedStep).
                    int sharedSlots = c.NSharedExperts == 1 ? 1 : 0;
                    scratch ??= Own(MoeFp8Experts.NewScratch(context, e, d, inter, c.NumExpertsPerTok, maxTokens, sharedExperts: sharedSlots));
                    MoeFp8Experts fast = Own(new MoeFp8Experts(context, kernels, e, d, inter, c.NumExpertsPerTok, maxTokens, scratch: scratch, sharedExperts: sharedSlots));
                    DeviceBuffer a = reference ? Own(context.Allocate(fast.W13.Bytes)) : (w13 ??= Own(context.Allocate(fast.W13.Bytes)));
                    DeviceBuffer b = reference ? Own(context.Allocate(fast.W2.Bytes)) : (w2 ??= Own(context.Allocate(fast.W2.Bytes)));
                    fillFp8.Launch(stream, grid, 256, 0, a, (ulong)(a.Bytes / 4), (uint)rng.Next());
                    fillFp8.Launch(stream, grid, 256, 0, b, (ulong)(b.Bytes / 4), (uint)rng.Next());
                    fast.PackWeights(a, b, stream);
                    Uniform(fast.S13.Pointer, fast.S13.Bytes / 4, 0.5f / (CodeRms * MathF.Sqrt(d)), 1.5f / (CodeRms * MathF.Sqrt(d)));
                    Uniform(fast.S2.Pointer, fast.S2.Bytes / 4, 0.5f / (CodeRms * MathF.Sqrt(inter)), 1.5f / (CodeRms * MathF.Sqrt(inter)));
                    DeviceRoutedExperts? refExperts = null;
                    if (reference)
                    {
                        // vLLM's w13 per expert: gate rows then up rows; its scales [2I/128, H/128] likewise.
                        long s13 = (2L * inter / 128) * (d / 128), s2 = (long)(d / 128) * (inter / 128);
                        refExperts = new DeviceRoutedExperts(
                            new ExpertStack(a.Pointer, fast.S13.Pointer, 2L * inter * d, s13),
                            new ExpertStack(a.Pointer + ((ulong)inter * (ulong)d), fast.S13.Pointer + ((ulong)(inter / 128) * (ulong)(d / 128) * 4), 2L * inter * d, s13),
                            new ExpertStack(b.Pointer, fast.S2.Pointer, (long)d * inter, s2),
                            true,
                            128,
                            128,
                            inter);
                    }

                    DeviceFeedForward? shared = c.NSharedExperts > 0 ? Ffn(inter * c.NSharedExperts) : null;
                    if (shared is not null && sharedSlots == 1)
                    {
                        fast.PackSharedExpert(0, shared.Gate, shared.Up, shared.Down, stream);
                    }

                    moe = new DeviceMoe(
                        new DeviceWeight(Dense(e, d), e, d, false),
                        Floats(e, -0.01f, 0.01f),
                        shared,
                        refExperts,
                        fast);
                }

                layers.Add(new DeviceLayer(l, Norm(d), Norm(d), attention, moe is null ? Ffn(c.IntermediateSize) : null, moe));
            }

            DeviceBuffer embedding = Floats((long)c.VocabSize * d, -1f, 1f);
            var head = new DeviceWeight(Dense(c.VocabSize, d), c.VocabSize, d, false);
            var rope = new YarnRope(c);
            DeviceBuffer invFreq = Own(context.Allocate(rope.InverseFrequencies.Length * 8L));
            invFreq.Upload(rope.InverseFrequencies);
            DeviceNorm finalNorm = Norm(d);
            stream.Synchronize();
            if (!reference)
            {
                // The row-major staging copies served only the packing.
                foreach (DeviceBuffer staging in new[] { w13, w2 }.OfType<DeviceBuffer>())
                {
                    owned.Remove(staging);
                    staging.Dispose();
                }
            }

            return new DeviceModelWeights(c, embedding, layers, finalNorm, head, invFreq, rope.AttentionFactor, rope.SoftmaxScale, owned);
        }
        catch
        {
            stream.Synchronize();
            owned.ForEach(o => o.Dispose());
            throw;
        }
    }
}
