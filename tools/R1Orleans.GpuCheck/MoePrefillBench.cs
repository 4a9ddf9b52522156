using R1Orleans.Cuda;

namespace R1Orleans.GpuCheck;

/// <summary>One timed configuration of the MoE step at prefill size.</summary>
public sealed record MoePrefillTiming(string Config, double Ms, double TFlops);

/// <summary>
/// The MoE layer at prefill size (4,096 tokens, top-8: ~128 tokens per expert) through the decode kernels, whose
/// warps take an expert's tokens in passes of 8 x token tiles against each weight tile held in registers, and through
/// the prefill GEMMs (kernels/moe_prefill.cu: 128-row x 64/128-token CTA tiles). Compute-bound here (2.9 TFLOP against
/// 11.3 GB of weights), so it is reported in TFLOP/s against the FP8 and BF16 matrix rates that tools/gpu/torch_moe.py
/// measures in the same run, with the weight-read floor beside it. <see cref="PrefillKernelMs"/>: per launch of the
/// best prefill configuration (prepare, schedule, gate_up, down, combine); <see cref="PrefillAgreesWithDecode"/>: the
/// default prefill output against the decode kernels' on the same inputs (the full-size layer has no CPU reference).
/// </summary>
public sealed record MoePrefillResult(
    int Tokens, int UniqueExperts, double GFlop, double WeightFloorMs, MoePrefillTiming Best, IReadOnlyList<MoePrefillTiming> Sweep,
    MoePrefillTiming BestPrefill, IReadOnlyDictionary<string, double> PrefillKernelMs, CheckResult PrefillAgreesWithDecode);

/// <summary>Decode kernels (their default config) against the prefill GEMMs (default config) at one token count, ms.</summary>
public sealed record MoeCrossover(int Tokens, double DecodeMs, double PrefillMs);

/// <summary>Times the MoE step at prefill size over a few launch configurations (device events, median of repeats).</summary>
public static class MoePrefillBench
{
    /// <summary>Where the prefill GEMMs overtake the decode kernels (sets <see cref="MoeFp8Experts.PrefillMinTokens"/>).</summary>
    public static IReadOnlyList<MoeCrossover> Crossover(CudaContext context, MoeFp8Experts moe, CudaStream stream, Random rng, int reps, params int[] tokenCounts)
    {
        using CudaEvent start = context.CreateEvent();
        using CudaEvent end = context.CreateEvent();
        var rows = new List<MoeCrossover>();
        foreach (int tokens in tokenCounts.Where(t => t <= moe.MaxTokens))
        {
            moe.X.Upload<float>(Rng.Uniform(rng, tokens * moe.Hidden, -1f, 1f));
            (int[] ids, float[] w) = Rng.Routing(rng, tokens, moe.TopK, moe.Experts);
            moe.TopkIds.Upload<int>(ids);
            moe.TopkWeights.Upload<float>(w);
            double decode = MoeBench.Median(reps, () => MoeBench.Time(stream, start, end, () => moe.Forward(stream, tokens, MoeLaunchConfig.ForTokens(tokens))), warm: 2);
            double prefill = MoeBench.Median(reps, () => MoeBench.Time(stream, start, end, () => moe.ForwardPrefill(stream, tokens, MoePrefillConfig.Default)), warm: 2);
            rows.Add(new MoeCrossover(tokens, decode, prefill));
        }

        return rows;
    }

    public static MoePrefillResult Run(CudaContext context, MoeFp8Experts moe, CudaStream stream, Random rng, int tokens, double readGBps, int reps)
    {
        moe.X.Upload<float>(Rng.Uniform(rng, tokens * moe.Hidden, -1f, 1f));
        (int[] ids, float[] w) = Rng.Routing(rng, tokens, moe.TopK, moe.Experts);
        moe.TopkIds.Upload<int>(ids);
        moe.TopkWeights.Upload<float>(w);
        int unique = ids.Distinct().Count();
        double gflop = 2.0 * 3 * moe.Hidden * moe.Intermediate * ids.Length / 1e9;
        double floorMs = unique * moe.ExpertWeightBytes / 1e9 / readGBps * 1e3;

        using CudaEvent start = context.CreateEvent();
        using CudaEvent end = context.CreateEvent();
        var sweep = new List<MoePrefillTiming>();
        var configs = new List<MoeLaunchConfig> { MoeLaunchConfig.ForTokens(tokens) };
        foreach ((int tiles, int depth, MoeRing ring) in MoeLaunchConfig.Variants.Where(v => v.TokenTiles >= 2))
        {
            foreach (int warps in new[] { 4, 8 })
            {
                var c = new MoeLaunchConfig(1, tiles, warps, depth, ring);
                if (c.IsSupported && !configs.Contains(c))
                {
                    configs.Add(c);
                }
            }
        }

        foreach (MoeLaunchConfig c in configs)
        {
            double ms = MoeBench.Median(reps, () => MoeBench.Time(stream, start, end, () => moe.Forward(stream, tokens, c)), warm: 2);
            sweep.Add(new MoePrefillTiming(c.ShortName, ms, gflop / ms)); // GFLOP per ms = TFLOP/s
        }

        // The prefill GEMMs on the same inputs: first their output against the decode kernels' (same numerics, so
        // only summation order and f16 rounding of h differ), then every compiled variant.
        moe.Output.Fill32(OpChecks.Poison);
        moe.Forward(stream, tokens, MoeLaunchConfig.ForTokens(tokens));
        stream.Synchronize();
        float[] decodeOut = moe.Output.Download<float>(tokens * moe.Hidden);
        moe.Output.Fill32(OpChecks.Poison);
        moe.PoisonScratch();
        moe.ForwardPrefill(stream, tokens, MoePrefillConfig.Default);
        stream.Synchronize();
        var agrees = new CheckResult(
            $"moe_prefill T={tokens} E={moe.Experts} {MoePrefillConfig.Default.ShortName} = decode kernels", MoeCheck.Tolerance,
            Agreement.Of(moe.Output.Download<float>(tokens * moe.Hidden), decodeOut));

        var prefillSweep = new List<MoePrefillTiming>();
        foreach (MoePrefillConfig c in MoePrefillConfig.Variants.Where(v => v.IsSupported))
        {
            double ms = MoeBench.Median(reps, () => MoeBench.Time(stream, start, end, () => moe.ForwardPrefill(stream, tokens, c)), warm: 2);
            prefillSweep.Add(new MoePrefillTiming(c.ShortName, ms, gflop / ms));
        }

        MoePrefillTiming bestPrefill = prefillSweep.MinBy(t => t.Ms)!;
        MoePrefillConfig bestConfig = MoePrefillConfig.Variants.First(v => v.ShortName == bestPrefill.Config);
        CudaEvent[] marks = Enumerable.Range(0, 6).Select(_ => context.CreateEvent()).ToArray();
        string[] launches = ["prepare", "schedule", "gate_up", "down", "combine"];
        var perKernel = launches.Select(_ => new List<double>()).ToArray();
        for (int r = 0; r < reps; r++)
        {
            moe.ForwardPrefill(stream, tokens, bestConfig, marks);
            marks[5].Synchronize();
            for (int i = 0; i < launches.Length; i++)
            {
                perKernel[i].Add(marks[i + 1].ElapsedSince(marks[i]));
            }
        }

        foreach (CudaEvent m in marks)
        {
            m.Dispose();
        }

        var kernelMs = launches.Select((n, i) => (n, perKernel[i].Order().ElementAt(perKernel[i].Count / 2))).ToDictionary(p => p.n, p => p.Item2);
        sweep.AddRange(prefillSweep);
        return new MoePrefillResult(tokens, unique, gflop, floorMs, sweep.MinBy(t => t.Ms)!, sweep, bestPrefill, kernelMs, agrees);
    }
}
