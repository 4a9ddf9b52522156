using R1Orleans.Cuda;

namespace R1Orleans.GpuCheck;

/// <summary>Measured device bandwidths, GB/s: three copies (bytes read + written) and a read.</summary>
public sealed record Bandwidth(double Memcpy, double CopyKernel, double CopyKernel4, double Read)
{
    /// <summary>The best of the three copies: the "copy bandwidth" the targets are stated against.</summary>
    public double Copy => Math.Max(Memcpy, Math.Max(CopyKernel, CopyKernel4));

    public override string ToString() =>
        $"copy: cuMemcpyDtoD {Memcpy:F0}, copy kernel {CopyKernel:F0}, copy kernel x4 {CopyKernel4:F0} GB/s (read + write); read kernel {Read:F0} GB/s";
}

/// <summary>One timed configuration of the MoE decode step.</summary>
public sealed record MoeTiming(MoeLaunchConfig Launch, double Ms, double GBps, double PctCopy)
{
    /// <summary>Short form: K splits of gate_up / down, token tiles, warps, depth, a for the cp.async ring.</summary>
    public string Config => Launch.ShortName;
}

/// <summary>The MoE decode step at one token count: the sweep, the best configuration and its per-launch times.</summary>
public sealed record MoeBenchResult(
    int Tokens, int UniqueExperts, double WeightGB, double FloorMs, MoeTiming Default, MoeTiming Best, double PipelinedMs, double GraphMs,
    IReadOnlyDictionary<string, double> KernelMs, IReadOnlyList<MoeTiming> Sweep);

/// <summary>Times the MoE decode step with device events (median of repeats after warm-up) against copy bandwidth.</summary>
public static class MoeBench
{
    public static readonly string[] Launches = ["prepare", "gate_up", "silu", "down", "combine"];

    public static MoeBenchResult Run(CudaContext context, MoeFp8Experts moe, CudaStream stream, Random rng, int tokens, double copyGBps, int reps)
    {
        float[] x = Rng.Uniform(rng, tokens * moe.Hidden, -1f, 1f);
        (int[] ids, float[] w) = Rng.Routing(rng, tokens, moe.TopK, moe.Experts);
        moe.X.Upload<float>(x);
        moe.TopkIds.Upload<int>(ids);
        moe.TopkWeights.Upload<float>(w);
        int unique = ids.Distinct().Count();
        double gb = unique * moe.ExpertWeightBytes / 1e9;
        double floorMs = gb / copyGBps * 1e3;

        var sweep = new List<MoeTiming>();
        MoeLaunchConfig def = MoeLaunchConfig.ForTokens(tokens);
        var configs = new List<MoeLaunchConfig> { def };
        foreach (int warps in new[] { 4, 8 })
        {
            foreach ((int tiles, int depth, MoeRing ring) in MoeLaunchConfig.Variants)
            {
                foreach ((int splits, int downSplits) in new[] { (1, 1), (2, 1), (4, 2), (7, 2), (7, 4) })
                {
                    var c = new MoeLaunchConfig(splits, tiles, warps, depth, ring, downSplits);
                    if (c != def && c.IsSupported && (tokens > 1 || tiles == 1) && (tokens < 64 || splits <= 2))
                    {
                        configs.Add(c);
                    }
                }
            }
        }

        using CudaEvent start = context.CreateEvent();
        using CudaEvent end = context.CreateEvent();
        foreach (MoeLaunchConfig c in configs)
        {
            double ms = Median(reps, () => Time(stream, start, end, () => moe.Forward(stream, tokens, c)), warm: 3);
            sweep.Add(new MoeTiming(c, ms, gb / (ms / 1e3), 100 * gb / (ms / 1e3) / copyGBps));
        }

        MoeTiming best = sweep.MinBy(t => t.Ms)!;
        MoeLaunchConfig bestConfig = best.Launch;

        // Back-to-back steps: launch gaps hidden behind the previous step's kernels.
        const int Pipelined = 20;
        double pipelined = Median(5, () => Time(stream, start, end, () =>
        {
            for (int i = 0; i < Pipelined; i++)
            {
                moe.Forward(stream, tokens, bestConfig);
            }
        }), warm: 1) / Pipelined;

        // The step's five launches as one CUDA graph, replayed.
        double graphMs;
        using (CudaGraph graph = CudaGraph.Capture(stream, () => moe.Forward(stream, tokens, bestConfig)))
        {
            graphMs = Median(reps, () => Time(stream, start, end, () => graph.Launch(stream)), warm: 3);
        }

        CudaEvent[] marks = Enumerable.Range(0, 6).Select(_ => context.CreateEvent()).ToArray();
        var perKernel = new List<double>[Launches.Length];
        for (int i = 0; i < perKernel.Length; i++)
        {
            perKernel[i] = [];
        }

        for (int r = 0; r < reps; r++)
        {
            moe.Forward(stream, tokens, bestConfig, marks);
            marks[5].Synchronize();
            for (int i = 0; i < Launches.Length; i++)
            {
                perKernel[i].Add(marks[i + 1].ElapsedSince(marks[i]));
            }
        }

        foreach (CudaEvent m in marks)
        {
            m.Dispose();
        }

        var kernelMs = Launches.Select((n, i) => (n, Median(perKernel[i]))).ToDictionary(p => p.n, p => p.Item2);
        return new MoeBenchResult(tokens, unique, gb, floorMs, sweep[0], best, pipelined, graphMs, kernelMs, sweep);
    }

    /// <summary>
    /// Device memory bandwidth in GB/s: copies count bytes read + written (cuMemcpyDtoD, a 16-byte copy kernel, the
    /// same with four loads in flight per thread); the read kernel counts bytes read (the MoE step only reads weights).
    /// </summary>
    public static Bandwidth MeasureBandwidth(CudaContext context, KernelLibrary kernels, CudaStream stream, int reps)
    {
        const long Bytes = 1L << 31;
        using DeviceBuffer a = context.Allocate(Bytes);
        using DeviceBuffer b = context.Allocate(Bytes);
        using DeviceBuffer sink = context.Allocate(16);
        kernels.Kernel("bench_util", "fill_fp8").Launch(stream, 132 * 16, 256, 0, a, (ulong)(Bytes / 4), 7u);
        using CudaEvent start = context.CreateEvent();
        using CudaEvent end = context.CreateEvent();
        double memcpy = Median(reps, () => Time(stream, start, end, () => b.CopyFromAsync(a, Bytes, stream)), warm: 3);
        CudaKernel copy = kernels.Kernel("bench_util", "copy_u4");
        CudaKernel copy4 = kernels.Kernel("bench_util", "copy_u4x4");
        CudaKernel read4 = kernels.Kernel("bench_util", "read_u4x4");
        int grid = context.MultiprocessorCount * 8;
        double kernel = Median(reps, () => Time(stream, start, end, () => copy.Launch(stream, grid, 256, 0, a, b, (ulong)(Bytes / 16))), warm: 3);
        double kernel4 = Median(reps, () => Time(stream, start, end, () => copy4.Launch(stream, grid, 256, 0, a, b, (ulong)(Bytes / 16))), warm: 3);
        double read = Median(reps, () => Time(stream, start, end, () => read4.Launch(stream, grid, 256, 0, a, (ulong)(Bytes / 16), sink)), warm: 3);
        static double GBps(long bytes, double ms) => bytes / (ms / 1e3) / 1e9;
        return new Bandwidth(GBps(2 * Bytes, memcpy), GBps(2 * Bytes, kernel), GBps(2 * Bytes, kernel4), GBps(Bytes, read));
    }

    internal static double Time(CudaStream stream, CudaEvent start, CudaEvent end, Action work)
    {
        start.Record(stream);
        work();
        end.Record(stream);
        end.Synchronize();
        return end.ElapsedSince(start);
    }

    /// <summary>Warm-up: at least <paramref name="warm"/> samples and 50 ms of device time (clocks ramp up after idle host work).</summary>
    internal static double Median(int reps, Func<double> sample, int warm)
    {
        double warmMs = 0;
        for (int i = 0; i < warm || (warmMs < 50 && i < 10_000); i++)
        {
            warmMs += sample();
        }

        var xs = new List<double>(reps);
        for (int i = 0; i < reps; i++)
        {
            xs.Add(sample());
        }

        return Median(xs);
    }

    internal static double Median(List<double> xs)
    {
        xs.Sort();
        return xs[xs.Count / 2];
    }
}
