using R1Orleans.Backend;
using R1Orleans.Checkpoint;
using R1Orleans.Cuda;
using R1Orleans.Cuda.Forward;
using R1Orleans.Model;

namespace R1Orleans.GpuCheck;

/// <summary>
/// kernels/rope.cu against YarnRope (CosSin + Rotate) and kernels/noaux_gate.cu against NoauxTcGate.Route, on fresh
/// random inputs with outputs poisoned first. The gate's expert ids must match exactly; its weights within float32 rounding.
/// </summary>
public static class RopeGateChecks
{
    /// <summary>cos/sin in float64 on both sides, the rotation in float32 (the GPU may fuse a multiply-add).</summary>
    public const double RopeTolerance = 1e-6;

    /// <summary>Sigmoids from different exp implementations, a float sum of k weights, a division.</summary>
    public const double GateWeightTolerance = 1e-6;

    public static IEnumerable<CheckResult> Run(CudaContext context, KernelLibrary kernels, CudaStream stream, Random rng)
    {
        ModelConfig v3 = SyntheticCheckpoint.MediumConfig() with
        {
            NumAttentionHeads = 128, QkNopeHeadDim = 128, QkRopeHeadDim = 64, KvLoraRank = 512, NRoutedExperts = 256, NGroup = 8, TopkGroup = 4,
            NumExpertsPerTok = 8, RoutedScalingFactor = 2.5, HiddenSize = 7168,
        };
        ModelConfig medium = SyntheticCheckpoint.MediumConfig();
        ModelConfig tiny = SyntheticCheckpoint.TinyConfig();
        ModelConfig noYarn = tiny with { RopeScaling = null };
        ModelConfig oneGroup = medium with { NGroup = 1, TopkGroup = 1, NormTopkProb = false, RoutedScalingFactor = 1.0 };

        // q: [tokens, heads, nope + rope] with the rope slice last; k_rope: [tokens, kv_lora + rope] with it at the end.
        // One DeepSeek-V3 row: a decode step's launch, its heads split over 8 CTAs (ForwardKernels.RopeGrid).
        foreach ((ModelConfig c, string name, int tokens) in new[] { (v3, "DeepSeek-V3", 37), (v3, "DeepSeek-V3", 1), (medium, "medium", 5), (noYarn, "no rope_scaling", 3) })
        {
            yield return Rope(context, kernels, stream, rng, c, $"rope_yarn q {name}", tokens, c.NumAttentionHeads, c.NumAttentionHeads * c.QkHeadDim, c.QkHeadDim, c.QkNopeHeadDim);
            yield return Rope(context, kernels, stream, rng, c, $"rope_yarn k_rope {name}", tokens, 1, c.LatentCacheDim, 0, c.KvLoraRank);
        }

        foreach ((ModelConfig c, string name, int tokens, bool bias, bool ties) in new[]
        {
            (v3, "DeepSeek-V3", 64, true, false), (v3, "DeepSeek-V3 no bias", 9, false, false), (medium, "medium", 33, true, false), (tiny, "tiny", 7, true, false),
            (oneGroup, "1 group, unnormalized", 5, true, false), (v3, "DeepSeek-V3 with ties", 16, true, true), (medium, "medium with ties", 16, false, true),
        })
        {
            foreach (CheckResult r in Gate(context, kernels, stream, rng, c, $"noaux_tc_gate {name} [{tokens}]", tokens, bias, ties))
            {
                yield return r;
            }
        }
    }

    private static CheckResult Rope(CudaContext context, KernelLibrary kernels, CudaStream stream, Random rng, ModelConfig c, string name, int tokens, int heads, int rowStride, int headStride, int offset)
    {
        var yarn = new YarnRope(c);
        int half = yarn.Dim / 2;
        float[] x = Rng.Uniform(rng, tokens * rowStride, -2f, 2f);
        int[] positions = [.. Enumerable.Range(0, tokens).Select(_ => rng.Next(c.MaxPositionEmbeddings))];
        float[] expected = (float[])x.Clone();
        Span<float> cos = stackalloc float[half], sin = stackalloc float[half];
        for (int t = 0; t < tokens; t++)
        {
            yarn.CosSin(positions[t], cos, sin);
            for (int h = 0; h < heads; h++)
            {
                YarnRope.Rotate(expected.AsSpan((t * rowStride) + (h * headStride) + offset, yarn.Dim), cos, sin);
            }
        }

        using DeviceBuffer dx = context.Allocate(x.Length * 4L);
        using DeviceBuffer dp = context.Allocate(tokens * 4L);
        using DeviceBuffer df = context.Allocate(half * 8L);
        dx.Upload<float>(x);
        dp.Upload<int>(positions);
        df.Upload<double>(yarn.InverseFrequencies);
        kernels.Kernel("rope", "rope_yarn").Launch(stream, ForwardKernels.RopeGrid(tokens, heads, half), 128, 0, dx, dp, df, BitConverter.DoubleToUInt64Bits(yarn.AttentionFactor), heads, (long)rowStride, headStride, offset, half);
        stream.Synchronize();

        // In place: the poison is the untouched input; compare the whole rows, so a stray write outside the slices fails too.
        return new CheckResult($"{name} [{tokens}, {heads} x {yarn.Dim}] ({ForwardKernels.RopeGrid(tokens, heads, half).Y} parts a row)", RopeTolerance, Agreement.Of(dx.Download<float>(x.Length), expected));
    }

    /// <summary>
    /// The gate against NoauxTcGate.Route. With <paramref name="ties"/>, expert e has the weight row and bias of expert
    /// e mod (experts / 4): every score is shared by four experts in different groups, so groups tie too, and both picks
    /// must break ties toward the lower index as the CPU's scans do.
    /// </summary>
    private static IEnumerable<CheckResult> Gate(CudaContext context, KernelLibrary kernels, CudaStream stream, Random rng, ModelConfig c, string name, int tokens, bool useBias, bool ties)
    {
        int experts = c.NRoutedExperts, k = c.NumExpertsPerTok, hidden = 64, distinct = ties ? experts / 4 : experts;
        float[] rows = Rng.Uniform(rng, distinct * hidden, -0.5f, 0.5f);
        float[] biases = Rng.Uniform(rng, distinct, -0.1f, 0.1f);
        var weight = new Matrix(experts, hidden, [.. Enumerable.Range(0, experts * hidden).Select(i => rows[((i / hidden) % distinct * hidden) + (i % hidden)])]);
        float[] bias = [.. Enumerable.Range(0, experts).Select(e => biases[e % distinct])];
        float[] x = Rng.Uniform(rng, tokens * hidden, -1f, 1f);
        var gate = new NoauxTcGate(c, weight, bias) { UseCorrectionBias = useBias };
        var cpu = new CpuBackend(1);
        ExpertRouting expected = gate.Route(cpu, x, tokens);
        float[] logits = new float[tokens * experts];
        cpu.Linear(x, tokens, weight, logits);

        using DeviceBuffer dl = context.Allocate(logits.Length * 4L);
        using DeviceBuffer db = context.Allocate(experts * 4L);
        using DeviceBuffer di = context.Allocate(tokens * k * 4L);
        using DeviceBuffer dw = context.Allocate(tokens * k * 4L);
        dl.Upload<float>(logits);
        db.Upload<float>(bias);
        di.Fill32(0xFFFFFFFEu); // id -2: never a valid expert
        dw.Fill32(OpChecks.Poison);
        kernels.Kernel("noaux_gate", "noaux_tc_gate").Launch(
            stream, tokens, 256, 0, dl, db, di, dw, experts, c.NGroup, c.TopkGroup, k, c.NormTopkProb ? 1 : 0, (float)c.RoutedScalingFactor, useBias ? 1 : 0);
        stream.Synchronize();
        int[] ids = di.Download<int>(tokens * k);
        int mismatched = ids.Zip(expected.TopkIds, (a, b) => a != b).Count(d => d);

        // Ids exact: a mismatch counts as the whole vector wrong (relative error 1 against tolerance 0).
        yield return new CheckResult($"{name} ids ({mismatched} of {ids.Length} differ)", 0, Agreement.Of(ids.Select(i => (float)i).ToArray(), expected.TopkIds.Select(i => (float)i).ToArray()));
        yield return new CheckResult($"{name} weights", GateWeightTolerance, Agreement.Of(dw.Download<float>(tokens * k), expected.TopkWeights));
    }
}
