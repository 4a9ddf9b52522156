using System.Diagnostics;
using R1Orleans.Checkpoint;
using R1Orleans.Cuda;
using R1Orleans.Cuda.Forward;

namespace R1Orleans.GpuCheck;

/// <summary>One batch size's decode through the device forward, against the sum of its per-op floors.</summary>
public sealed record ReducedModelResult(
    int Batch,
    int GemvMaxRows,
    int Context,
    double EagerStepMs,
    double GraphStepMs,
    double WallStepMs,
    double TokensPerSecond,
    IReadOnlyList<double> LayerMs,
    IReadOnlyList<double> LayerFloorMs,
    IReadOnlyList<int> UniqueExperts,
    double Gflop,
    int[] Tokens,
    IReadOnlyDictionary<string, double> OpMs,
    bool FastLinears,
    bool DenseTensorCores,
    bool ProgrammaticLaunch,
    bool SharedInRoutedStep)
{
    /// <summary>
    /// f32: all but the routed experts on CUDA cores; mma: FP8 linears through DenseFp8Mma; fast: every dense matrix
    /// through DenseMma; "-nopdl": with ordinary launches instead of programmatic dependent launch (the default);
    /// "+shx": the shared expert inside the routed FP8 step.
    /// </summary>
    public string Mode => (DenseTensorCores ? "fast" : FastLinears ? "mma" : "f32") + (ProgrammaticLaunch ? string.Empty : "-nopdl") + (SharedInRoutedStep ? "+shx" : string.Empty);

    public double FloorMs => LayerFloorMs.Sum();

    public double GraphOverFloor => GraphStepMs / FloorMs;
}

/// <summary>
/// The reduced-depth, full-width model (DeepSeek-V3's widths and vocabulary, 1 dense + 3 MoE layers, random weights)
/// generating through the device forward: prompts prefilled, then greedy decode steps at a fixed batch, timed per layer
/// (events between layers, eager launches) and per step (a CUDA graph replay; and host wall time per step with the
/// metadata upload and the argmax download). Each layer's floor is the bytes it must read (its weights in the form the
/// forward holds them, the experts the step's routing touched, the latents of every sequence) over the copy bandwidth
/// measured in the same run.
/// </summary>
public static class ReducedModelBench
{
    /// <summary>The model: V3's widths and vocabulary, 1 dense + 3 MoE layers (the same as bench-engine's --synthetic v3-reduced).</summary>
    public static ModelConfig Config() => SyntheticCheckpoint.V3ReducedConfig();

    public static ReducedModelResult Run(CudaContext context, KernelLibrary kernels, DeviceModelWeights weights, double copyGBps, int batch, int prompt, int steps, DeviceForwardOptions options, int seed)
    {
        ModelConfig c = weights.Config;
        const int BlockSize = 16;
        const int Warm = 2;
        int maxRows = Math.Max(batch, Math.Min(256, batch * prompt));
        int tableWidth = (prompt + steps + Warm + 3 + BlockSize) / BlockSize;
        using var cache = new DeviceLatentCache(context, c.NumHiddenLayers, c.LatentCacheDim, batch * tableWidth, BlockSize);
        using var forward = new DeviceForward(context, kernels, weights, cache, maxRows, batch, tableWidth, options);
        var rng = new Random(seed);
        DeviceSequence[] seqs = [.. Enumerable.Range(0, batch).Select(_ => cache.NewSequence())];
        int[] next = new int[batch];

        // Prefill: whole prompts, as many per step as fit maxRows.
        int perChunk = Math.Max(1, maxRows / prompt);
        for (int s0 = 0; s0 < batch; s0 += perChunk)
        {
            int count = Math.Min(perChunk, batch - s0);
            StepPlan p = StepPlan.Build([.. Enumerable.Range(s0, count).Select(s => seqs[s].Append([.. Enumerable.Range(0, prompt).Select(_ => rng.Next(c.VocabSize))]))], BlockSize, cache.Blocks, tableWidth, c.VocabSize);
            forward.Run(p);
            int[] ids = forward.DownloadArgmax(p.Rows);
            for (int i = 0; i < count; i++)
            {
                next[s0 + i] = ids[((i + 1) * prompt) - 1];
            }
        }

        StepPlan Decode() => StepPlan.Build([.. seqs.Select((s, i) => s.Append([next[i]]))], BlockSize, cache.Blocks, tableWidth, c.VocabSize);

        int layers = c.NumHiddenLayers;
        CudaEvent[] marks = [.. Enumerable.Range(0, layers + 2).Select(_ => context.CreateEvent())];
        var perLayer = Enumerable.Range(0, layers + 1).Select(_ => new List<double>()).ToArray();
        var eager = new List<double>();
        var tokens = new List<int>();
        for (int step = 0; step < Warm + (steps / 2); step++)
        {
            StepPlan plan = Decode();
            forward.Upload(plan);
            forward.Enqueue(batch, marks);
            next = forward.DownloadArgmax(batch);
            tokens.Add(next[0]);
            if (step >= Warm)
            {
                for (int l = 0; l <= layers; l++)
                {
                    perLayer[l].Add(marks[l + 1].ElapsedSince(marks[l]));
                }

                eager.Add(marks[layers + 1].ElapsedSince(marks[0]));
            }
        }

        // Per-op times of a few eager steps (an event after each op), medians by op.
        var ops = new Dictionary<string, List<double>>();
        using (var profile = new OpProfile(context))
        {
            forward.Profile = profile;
            for (int step = 0; step < 3; step++)
            {
                forward.Upload(Decode());
                forward.Enqueue(batch);
                foreach ((string op, double ms) in profile.Collect())
                {
                    (ops.TryGetValue(op, out List<double>? l) ? l : ops[op] = []).Add(ms);
                }

                next = forward.DownloadArgmax(batch);
            }

            forward.Profile = null;
        }

        // The routing of the last eager step: which experts each MoE layer had to read.
        var unique = new List<int>();
        var floors = new List<double>();
        int context0 = seqs[0].Length;
        // Decode attention reads every sequence's latents: float32, or the BF16 copy where mla_decode runs.
        long latentBytes = (long)batch * context0 * c.LatentCacheDim * (forward.DecodesOnTensorCores ? 2 : 4);
        foreach (DeviceLayer layer in weights.Layers)
        {
            long bytes = forward.AttentionBytes(layer) + latentBytes;
            if (layer.Moe is { } moe)
            {
                (int[] ids, _) = forward.DownloadRouting(layer.Layer, batch);
                int distinct = ids.Distinct().Count();
                unique.Add(distinct);
                long scales = ((2L * c.MoeIntermediateSize / 128) * (c.HiddenSize / 128)) + ((long)(c.HiddenSize / 128) * (c.MoeIntermediateSize / 128));
                bytes += moe.Router.Bytes + (moe.Shared?.Bytes ?? 0) + ((long)distinct * ((3L * c.HiddenSize * c.MoeIntermediateSize) + (scales * 4)));
            }
            else
            {
                bytes += layer.Mlp!.Bytes;
            }

            floors.Add(bytes / (copyGBps * 1e6));
        }

        floors.Add(forward.LmHeadBytes / (copyGBps * 1e6));

        // Graph replays: the same step, metadata uploaded before each.
        StepPlan first = Decode();
        forward.Upload(first);
        using CudaGraph graph = forward.CaptureStep(batch);
        var graphMs = new List<double>();
        var wall = new List<double>();
        StepPlan plan2 = first;
        for (int step = 0; step < steps - (steps / 2); step++)
        {
            var clock = Stopwatch.StartNew();
            if (step > 0)
            {
                plan2 = Decode();
                forward.Upload(plan2);
            }

            marks[0].Record(forward.Stream);
            graph.Launch(forward.Stream);
            marks[1].Record(forward.Stream);
            next = forward.DownloadArgmax(batch);
            wall.Add(clock.Elapsed.TotalMilliseconds);
            graphMs.Add(marks[1].ElapsedSince(marks[0]));
            tokens.Add(next[0]);
        }

        foreach (CudaEvent m in marks)
        {
            m.Dispose();
        }

        double gflop = Gflop(c, batch, context0);
        double wallMs = Median(wall);
        return new ReducedModelResult(batch, options.GemvMaxRows, seqs[0].Length, Median(eager), Median(graphMs), wallMs, batch / (wallMs / 1e3), [.. perLayer.Select(Median)], floors, unique, gflop, [.. tokens], ops.ToDictionary(p => p.Key, p => Median(p.Value)), options.FastLinears, options.DenseTensorCores, options.ProgrammaticLaunch, forward.FoldsSharedExperts);
    }

    /// <summary>Multiply-adds × 2 of one decode step: every dense weight once per row, k experts + shared per MoE row, attention.</summary>
    private static double Gflop(ModelConfig c, int batch, int context)
    {
        long d = c.HiddenSize;
        long attn = ((long)(c.QLoraRank ?? 0) * d) + ((long)c.NumAttentionHeads * c.QkHeadDim * (c.QLoraRank ?? d)) + ((long)c.LatentCacheDim * d) + (d * c.NumAttentionHeads * c.VHeadDim)
            + ((long)c.NumAttentionHeads * c.KvLoraRank * (c.QkNopeHeadDim + c.VHeadDim)) + ((long)c.NumAttentionHeads * context * (c.LatentCacheDim + c.KvLoraRank));
        long expert = 3L * d * c.MoeIntermediateSize;
        long perRow = (c.NumHiddenLayers * attn) + (c.FirstKDenseReplace * 3L * d * c.IntermediateSize)
            + ((c.NumHiddenLayers - c.FirstKDenseReplace) * (((c.NumExpertsPerTok + c.NSharedExperts) * expert) + (c.NRoutedExperts * d))) + (c.VocabSize * d);
        return 2.0 * batch * perRow / 1e9;
    }

    private static double Median(List<double> v)
    {
        if (v.Count == 0)
        {
            return double.NaN;
        }

        double[] s = [.. v.Order()];
        return s[s.Length / 2];
    }
}
