using System.Diagnostics;
using R1Orleans.Engine;
using R1Orleans.Engine.Sampling;
using R1Orleans.Engine.Scheduling;
using R1Orleans.Model;

namespace R1Orleans.Client.Benchmarks;

public sealed record PrefillResult(int Tokens, double Seconds, double TokensPerSecond, double FloorSeconds)
{
    public double OfCeiling => FloorSeconds / Seconds;
}

public sealed record ServingResult(int Batch, bool Mtp, long Tokens, long Steps, double Seconds, double TokensPerSecond, double AcceptanceRate);

/// <summary>FloorSecondsPerStep = max(bytes / bandwidth, FLOPs / matrix rate): decode turns compute-bound as the batch grows.</summary>
public sealed record DecodeResult(int Batch, int Context, int Steps, double SecondsPerStep, double TokensPerSecond, double BytesPerStep, double FlopsPerStep, double FloorSecondsPerStep)
{
    public double OfCeiling => FloorSecondsPerStep / SecondsPerStep;
}

/// <summary>
/// Prefill and decode throughput of the single-process CPU engine on one loaded model, each against the ceiling
/// measured in the same run: prefill FLOPs / matrix rate, decode bytes read / memory bandwidth. Medians of repeats.
/// </summary>
public sealed class EngineBenchmark(LoadedModel model, HardwareCeiling ceiling, int seed = 7, bool fp8Resident = false)
{
    private readonly ModelCost _cost = new(model.Config, fp8Resident);

    public PrefillResult Prefill(int tokens, int repeats)
    {
        int[] prompt = RandomTokens(tokens, 0);
        PagedLatentCache cache = model.NewCache(tokens + 16);
        var times = new List<double>();
        for (int r = 0; r < repeats + 1; r++)
        {
            PagedSequenceCache seq = cache.NewSequence();
            seq.Reserve(tokens);
            ForwardBatch batch = BatchBuilder.Prefill([prompt], [seq], mode: AttentionMode.Naive);
            var sw = Stopwatch.StartNew();
            model.Model.Forward(batch, ModelOutput.LastRows(batch));
            sw.Stop();
            seq.Free();
            if (r > 0)
            {
                times.Add(sw.Elapsed.TotalSeconds);
            }
        }

        double t = HardwareCeiling.Median(times);
        return new PrefillResult(tokens, t, tokens / t, _cost.PrefillFlops(tokens) / ceiling.FlopsPerSecond);
    }

    public DecodeResult Decode(int batchSize, int context, int steps)
    {
        PagedLatentCache cache = model.NewCache(batchSize * (context + steps + 16));
        var prompts = Enumerable.Range(0, batchSize).Select(i => RandomTokens(context, i + 1)).ToList();
        var seqs = prompts.Select(_ => cache.NewSequence()).ToArray();
        foreach (PagedSequenceCache s in seqs)
        {
            s.Reserve(context + steps);
        }

        ForwardBatch prefill = BatchBuilder.Prefill(prompts, seqs);
        ModelOutput output = model.Model.Forward(prefill, ModelOutput.LastRows(prefill));
        int[] lengths = prompts.Select(p => p.Length).ToArray();
        var touch = new ExpertTouchCounter();
        var times = new List<double>();
        double bytes = 0;
        double flops = 0;
        for (int step = 0; step < steps; step++)
        {
            int[] next = Enumerable.Range(0, batchSize).Select(i => GreedyGenerator.Argmax(output.LogitsOf(i))).ToArray();
            ForwardBatch decode = BatchBuilder.Decode(next, lengths, seqs, touch);
            touch.Reset();
            var sw = Stopwatch.StartNew();
            output = model.Model.Forward(decode, ModelOutput.LastRows(decode));
            sw.Stop();
            times.Add(sw.Elapsed.TotalSeconds);
            for (int i = 0; i < lengths.Length; i++)
            {
                lengths[i]++;
            }

            bytes += _cost.DecodeWeightBytes(touch.DistinctExperts) + _cost.DecodeCacheBytes(lengths);
            flops += _cost.DecodeFlops(lengths);
        }

        foreach (PagedSequenceCache s in seqs)
        {
            s.Free();
        }

        double perStep = HardwareCeiling.Median(times);
        double bytesPerStep = bytes / steps;
        double flopsPerStep = flops / steps;
        double floor = Math.Max(bytesPerStep / ceiling.ReadBytesPerSecond, flopsPerStep / ceiling.FlopsPerSecond);
        return new DecodeResult(batchSize, context, steps, perStep, batchSize / perStep, bytesPerStep, flopsPerStep, floor);
    }

    /// <summary>
    /// Decode throughput through the serving engine core (scheduler, sampler, optional MTP drafts): batch greedy
    /// requests decode together; the clock starts once every request has its first token (prefill excluded).
    /// </summary>
    public ServingResult ServingDecode(int batchSize, int context, int tokens, bool mtp)
    {
        PagedLatentCache cache = model.NewCache(batchSize * (context + tokens + 32));
        var core = new EngineCore(model.Model, cache, new SchedulerConfig { SpeculativeMtp = mtp, MaxNumSeqs = Math.Max(64, batchSize), MaxNumBatchedTokens = Math.Max(256, batchSize * 2) });
        var channels = new List<System.Threading.Channels.Channel<GenerationEvent>>();
        for (int i = 0; i < batchSize; i++)
        {
            var ch = System.Threading.Channels.Channel.CreateUnbounded<GenerationEvent>();
            channels.Add(ch);
            core.Submit(new GenerationRequest($"b{i}", RandomTokens(context, 100 + i), SamplingParams.Greedy(tokens) with { IgnoreEos = true }), ch.Writer);
        }

        while (core.Stats.GeneratedTokens < batchSize && core.Step())
        {
        }

        long startTokens = core.Stats.GeneratedTokens;
        long startSteps = core.Stats.Steps;
        var sw = Stopwatch.StartNew();
        while (core.Step())
        {
        }

        sw.Stop();
        long generated = core.Stats.GeneratedTokens - startTokens;
        return new ServingResult(batchSize, mtp, generated, core.Stats.Steps - startSteps, sw.Elapsed.TotalSeconds, generated / sw.Elapsed.TotalSeconds, core.Stats.AcceptanceRate);
    }

    private int[] RandomTokens(int count, int stream)
    {
        var rng = new Random(seed + (stream * 7919));
        return Enumerable.Range(0, count).Select(_ => rng.Next(model.Config.VocabSize)).ToArray();
    }
}
