using R1Orleans.Cuda;

namespace R1Orleans.GpuCheck;

/// <summary>
/// The FP8 MoE decode step against <see cref="MoeReference"/>. Activations enter the tensor cores as f16 (x, and h after
/// SiLU x up); weights are exact. Tolerance: relative L2 error ≤ 2e-3 (f16 rounding is 2^-11 per operand).
/// </summary>
public static class MoeCheck
{
    public const double Tolerance = 2e-3;

    /// <summary>A captured graph of the step replays to the same bits as the direct launches.</summary>
    public static CheckResult GraphReplay(MoeFp8Experts moe, CudaStream stream, Random rng, int tokens, MoeLaunchConfig config)
    {
        moe.X.Upload<float>(Rng.Uniform(rng, tokens * moe.Hidden, -1f, 1f));
        (int[] ids, float[] w) = Rng.Routing(rng, tokens, moe.TopK, moe.Experts);
        moe.TopkIds.Upload<int>(ids);
        moe.TopkWeights.Upload<float>(w);
        moe.Output.Fill32(OpChecks.Poison);
        moe.Forward(stream, tokens, config);
        stream.Synchronize();
        float[] direct = moe.Output.Download<float>(tokens * moe.Hidden);
        using CudaGraph graph = CudaGraph.Capture(stream, () => moe.Forward(stream, tokens, config));
        moe.Output.Fill32(OpChecks.Poison);
        graph.Launch(stream);
        stream.Synchronize();
        float[] replay = moe.Output.Download<float>(tokens * moe.Hidden);
        return new CheckResult($"moe_fp8 T={tokens} graph replay = direct launch", 0, Agreement.Of(replay, direct));
    }

    public static CheckResult Run(MoeFp8Experts moe, MoeWeights weights, CudaStream stream, Random rng, int tokens, MoeLaunchConfig config)
    {
        float[] x = Rng.Uniform(rng, tokens * moe.Hidden, -1f, 1f);
        (int[] ids, float[] w) = Rng.Routing(rng, tokens, moe.TopK, moe.Experts);
        MoeFp8Experts.ValidateRouting(ids, tokens, moe.TopK, moe.Experts);
        moe.X.Upload<float>(x);
        moe.TopkIds.Upload<int>(ids);
        moe.TopkWeights.Upload<float>(w);
        moe.Output.Fill32(OpChecks.Poison);
        moe.Forward(stream, tokens, config);
        stream.Synchronize();
        float[] actual = moe.Output.Download<float>(tokens * moe.Hidden);
        float[] expected = MoeReference.Compute(moe, weights, x, ids, w, tokens);
        string name = $"moe_fp8 T={tokens} E={moe.Experts} split={config.Splits} tiles={config.TokenTiles}";
        return new CheckResult(name, Tolerance, Agreement.Of(actual, expected));
    }
}
