using R1Orleans.Cuda;

namespace R1Orleans.GpuCheck;

/// <summary>
/// The FP8 MoE prefill GEMMs (kernels/moe_prefill.cu through <see cref="MoeFp8Experts.ForwardPrefill"/>) against
/// <see cref="MoeReference"/>, in the decode kernels' numerics and tolerance (<see cref="MoeCheck.Tolerance"/>: relative
/// L2 error ≤ 2e-3; NaN never passes). The output and every intermediate buffer are NaN-poisoned first, so an entry
/// the step reads without writing shows.
/// </summary>
public static class MoePrefillCheck
{
    public static CheckResult Run(MoeFp8Experts moe, MoeWeights weights, CudaStream stream, Random rng, int tokens, MoePrefillConfig config)
    {
        float[] x = Rng.Uniform(rng, tokens * moe.Hidden, -1f, 1f);
        (int[] ids, float[] w) = Rng.Routing(rng, tokens, moe.TopK, moe.Experts);
        MoeFp8Experts.ValidateRouting(ids, tokens, moe.TopK, moe.Experts);
        moe.X.Upload<float>(x);
        moe.TopkIds.Upload<int>(ids);
        moe.TopkWeights.Upload<float>(w);
        moe.Output.Fill32(OpChecks.Poison);
        moe.PoisonScratch();
        moe.ForwardPrefill(stream, tokens, config);
        stream.Synchronize();
        float[] actual = moe.Output.Download<float>(tokens * moe.Hidden);
        float[] expected = MoeReference.Compute(moe, weights, x, ids, w, tokens);
        int[] perExpert = new int[moe.Experts];
        foreach (int e in ids)
        {
            perExpert[e]++;
        }

        int partial = perExpert.Count(n => n % config.TokensPerCta != 0);
        string name = $"moe_prefill T={tokens} E={moe.Experts} H={moe.Hidden} I={moe.Intermediate} {config.ShortName} ({partial} experts end in a partial tile)";
        return new CheckResult(name, MoeCheck.Tolerance, Agreement.Of(actual, expected));
    }

    /// <summary>The checks r1-gpucheck runs on the small 8-expert V3-width layer (at most 64 tokens): 37 and 64 tokens.</summary>
    public static IEnumerable<CheckResult> Small(MoeFp8Experts small, MoeWeights weights, CudaStream stream, Random rng)
    {
        // 37 tokens through all 8 experts: 37 per expert, one partial tile (a warp with 5 tokens at 64-token tiles).
        yield return Run(small, weights, stream, rng, 37, MoePrefillConfig.Default);
        yield return Run(small, weights, stream, rng, 37, new MoePrefillConfig(2, 8, 4, 2, 4));
        // 64 per expert: one whole 64-token tile, or half of a 128-token one.
        yield return Run(small, weights, stream, rng, 64, new MoePrefillConfig(4, 4, 2, 4, 4));
        yield return Run(small, weights, stream, rng, 64, new MoePrefillConfig(2, 8, 4, 1, 3));
    }

    /// <summary>The 16-expert hidden 1024 / moe_intermediate 256 top-4 layer: 777 and 1000 tokens (~190-250 per expert, several tiles).</summary>
    public static IEnumerable<CheckResult> Wide(MoeFp8Experts wide, MoeWeights weights, CudaStream stream, Random rng)
    {
        yield return Run(wide, weights, stream, rng, 777, new MoePrefillConfig(4, 4, 2, 2, 4));
        yield return Run(wide, weights, stream, rng, 777, new MoePrefillConfig(2, 8, 4, 2, 4));
        yield return Run(wide, weights, stream, rng, 1000, MoePrefillConfig.Default);
        yield return Run(wide, weights, stream, rng, 1000, new MoePrefillConfig(4, 4, 2, 4, 4));
    }
}
