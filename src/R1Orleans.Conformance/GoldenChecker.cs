using System.Diagnostics;
using R1Orleans.Backend;
using System.Threading.Channels;
using R1Orleans.Engine;
using R1Orleans.Engine.Sampling;
using R1Orleans.Engine.Scheduling;
using R1Orleans.Model;

namespace R1Orleans.Conformance;

/// <summary>
/// Runs every check of a golden model case through the engine exactly as serving runs it:
/// (1) all prompts in one varlen prefill batch (naive MLA) → logits of every position and the routing of every MoE layer;
/// (2) the MTP head on the same caches → mtp_logits; (3) greedy continuation, prefill then one token per step through
/// the paged latent cache (absorbed MLA).
/// </summary>
public static class GoldenChecker
{
    /// <param name="directory">The golden case (a checkpoint with golden.safetensors).</param>
    /// <param name="backend">Runs the math.</param>
    /// <param name="progress">Receives a line per stage.</param>
    /// <param name="speculativeMtp">Greedy through the serving engine with MTP drafts verified each step.</param>
    /// <param name="exchange">How the model reaches its routed experts (default: all in this process); a cluster
    /// rank's exchange checks a distributed deployment, and <see cref="GoldenReport.Trace"/> compares it bit for bit.</param>
    /// <param name="allowNonfiniteWeights">Load a checkpoint whose weights hold NaN or ±Inf instead of refusing it.</param>
    /// <param name="accelerator">Runs the model's steps (the device-resident forward); null: op by op through the backend.</param>
    public static GoldenReport Check(string directory, IComputeBackend backend, Action<string>? progress = null, bool speculativeMtp = false, ExpertExchangeFactory? exchange = null, bool allowNonfiniteWeights = false, ModelAcceleratorFactory? accelerator = null)
    {
        var clock = Stopwatch.StartNew();
        GoldenCase golden = GoldenCase.Load(directory);
        progress?.Invoke($"{golden.Name}: loading checkpoint");
        using LoadedModel loaded = LoadedModel.Load(directory, backend, new ModelLoadOptions { Exchange = exchange, AllowNonfiniteWeights = allowNonfiniteWeights, Accelerator = accelerator });
        DeepseekV3Model model = loaded.Model;
        bool expectMtp = golden.Prompts.Any(p => p.MtpLogits is not null);
        if (expectMtp && model.Mtp is null)
        {
            throw new InvalidOperationException($"{golden.Name}: the golden file has MTP logits but the checkpoint has no MTP layer");
        }

        IReadOnlyList<GoldenPrompt> prompts = golden.Prompts;
        int maxGreedy = prompts.Max(p => p.Greedy.Length);
        PagedLatentCache cache = loaded.NewCache(prompts.Sum(p => p.Tokens.Length + maxGreedy) + (16 * prompts.Count));

        // (1) prefill of all prompts at once
        progress?.Invoke($"{golden.Name}: prefill of {prompts.Count} prompts");
        var caches = prompts.Select(_ => cache.NewSequence()).ToArray();
        foreach ((PagedSequenceCache c, GoldenPrompt p) in caches.Zip(prompts))
        {
            c.Reserve(p.Tokens.Length);
        }

        var routing = new RoutingRecorder();
        ForwardBatch prefill = BatchBuilder.Prefill(prompts.Select(p => p.Tokens).ToList(), caches, routing, AttentionMode.Naive);
        ModelOutput output = model.Forward(prefill);

        // (2) MTP: tokens t+1 with the main model's normed hidden state at t, positions 0..T-2
        ModelOutput? mtpOutput = null;
        ForwardBatch? mtpBatch = null;
        if (model.Mtp is not null && expectMtp)
        {
            progress?.Invoke($"{golden.Name}: MTP head");
            mtpBatch = BatchBuilder.Prefill(prompts.Select(p => p.Tokens[1..]).ToList(), caches, mode: AttentionMode.Naive);
            int h = output.HiddenSize;
            float[] previous = new float[mtpBatch.Rows * h];
            foreach ((SequenceSlice main, SequenceSlice draft) in prefill.Sequences.Zip(mtpBatch.Sequences))
            {
                output.Hidden.AsSpan(main.Start * h, draft.Length * h).CopyTo(previous.AsSpan(draft.Start * h, draft.Length * h));
            }

            mtpOutput = model.Mtp.Forward(mtpBatch, previous, ModelOutput.AllRows(mtpBatch.Rows));
        }

        foreach (PagedSequenceCache c in caches)
        {
            c.Free();
        }

        // (3) greedy through the cache: plainly, or through the serving engine with MTP drafts verified each step
        IReadOnlyList<int[]> greedy;
        double? acceptance = null;
        if (speculativeMtp)
        {
            if (model.Mtp is null)
            {
                throw new InvalidOperationException($"{golden.Name}: --speculative mtp needs a checkpoint with an MTP layer");
            }

            progress?.Invoke($"{golden.Name}: greedy decode of {maxGreedy} tokens with MTP speculative decoding");
            (greedy, acceptance) = SpeculativeGreedy(model, cache, prompts, maxGreedy);
        }
        else
        {
            progress?.Invoke($"{golden.Name}: greedy decode of {maxGreedy} tokens");
            greedy = new GreedyGenerator(model, cache).Generate(prompts.Select(p => p.Tokens).ToList(), maxGreedy);
        }

        var results = new List<GoldenPromptResult>();
        for (int i = 0; i < prompts.Count; i++)
        {
            GoldenPrompt p = prompts[i];
            SequenceSlice slice = prefill.Sequences[i];
            int v = golden.VocabSize;
            double logitErr = RelativeError(output.Logits.AsSpan(slice.Start * v, slice.Length * v), p.Logits);
            (int decisions, int mismatches, double weightErr) = CompareRouting(p, routing.Get, slice.Start);
            int greedyMismatches = CountMismatches(greedy[i].AsSpan(0, p.Greedy.Length), p.Greedy);
            double? mtpErr = null;
            if (p.MtpLogits is not null && mtpOutput is not null && mtpBatch is not null)
            {
                SequenceSlice d = mtpBatch.Sequences[i];
                mtpErr = RelativeError(mtpOutput.Logits.AsSpan(d.Start * v, d.Length * v), p.MtpLogits);
            }

            results.Add(new GoldenPromptResult(p.Index, p.Tokens.Length, logitErr, decisions, mismatches, weightErr, p.Greedy.Length, greedyMismatches, mtpErr));
        }

        var trace = new GoldenTrace(
            output.Logits,
            routing.Layers.ToDictionary(l => l, l => routing.Get(l)!),
            mtpOutput?.Logits,
            greedy);
        return new GoldenReport(golden.Name, results, clock.Elapsed) { MtpAcceptanceRate = acceptance, Trace = trace };
    }

    private static (IReadOnlyList<int[]> Tokens, double Acceptance) SpeculativeGreedy(DeepseekV3Model model, PagedLatentCache cache, IReadOnlyList<GoldenPrompt> prompts, int maxGreedy)
    {
        var core = new EngineCore(model, cache, new SchedulerConfig { SpeculativeMtp = true });
        var streams = new List<Channel<GenerationEvent>>();
        for (int i = 0; i < prompts.Count; i++)
        {
            var ch = Channel.CreateUnbounded<GenerationEvent>();
            streams.Add(ch);
            core.Submit(new GenerationRequest($"golden-{i}", prompts[i].Tokens, SamplingParams.Greedy(maxGreedy) with { IgnoreEos = true }), ch.Writer);
        }

        while (core.Step())
        {
        }

        var tokens = new List<int[]>();
        foreach (Channel<GenerationEvent> ch in streams)
        {
            var list = new List<int>();
            while (ch.Reader.TryRead(out GenerationEvent? e))
            {
                if (e.Error is not null)
                {
                    throw new InvalidOperationException(e.Error);
                }

                if (e.Token >= 0)
                {
                    list.Add(e.Token);
                }
            }

            tokens.Add([.. list]);
        }

        return (tokens, core.Stats.AcceptanceRate);
    }

    /// <summary>max|a − b| / max|b|.</summary>
    public static double RelativeError(ReadOnlySpan<float> actual, ReadOnlySpan<float> expected)
    {
        if (actual.Length != expected.Length)
        {
            throw new ArgumentException($"compared {actual.Length} values with {expected.Length}");
        }

        double maxDiff = 0, maxRef = 0;
        for (int i = 0; i < actual.Length; i++)
        {
            maxDiff = Math.Max(maxDiff, Math.Abs((double)actual[i] - expected[i]));
            maxRef = Math.Max(maxRef, Math.Abs((double)expected[i]));
        }

        return double.IsNaN(maxDiff) ? double.PositiveInfinity : maxDiff / Math.Max(maxRef, double.Epsilon);
    }

    private static int CountMismatches(ReadOnlySpan<int> actual, ReadOnlySpan<int> expected)
    {
        int n = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            n += actual[i] != expected[i] ? 1 : 0;
        }

        return n;
    }

    /// <summary>
    /// Per token and layer, our expert set sorted by id against the reference (also sorted); weights follow the ids.
    /// routingOf gives a layer's routing of the whole batch (null when that layer was not routed); the prompt's tokens
    /// are its rows from <paramref name="start"/>.
    /// </summary>
    public static (int Decisions, int Mismatches, double WeightError) CompareRouting(GoldenPrompt p, Func<int, ExpertRouting?> routingOf, int start)
    {
        int decisions = 0, mismatches = 0;
        double weightErr = 0;
        foreach ((int layer, (long[] refIds, float[] refW)) in p.Routing)
        {
            ExpertRouting? ours = routingOf(layer);
            if (ours is null)
            {
                mismatches += p.Tokens.Length;
                continue;
            }

            int k = ours.K;
            for (int t = 0; t < p.Tokens.Length; t++)
            {
                decisions++;
                var pairs = new (int Id, float W)[k];
                for (int j = 0; j < k; j++)
                {
                    pairs[j] = (ours.Ids(start + t)[j], ours.Weights(start + t)[j]);
                }

                Array.Sort(pairs, (a, b) => a.Id.CompareTo(b.Id));
                bool same = true;
                for (int j = 0; j < k; j++)
                {
                    if (pairs[j].Id != refIds[(t * k) + j])
                    {
                        same = false;
                    }
                    else
                    {
                        weightErr = Math.Max(weightErr, Math.Abs(pairs[j].W - refW[(t * k) + j]));
                    }
                }

                mismatches += same ? 0 : 1;
            }
        }

        return (decisions, mismatches, weightErr);
    }

    /// <summary>Keeps the routing of one forward step per layer (the prefill batch).</summary>
    private sealed class RoutingRecorder : IRoutingObserver
    {
        private readonly Dictionary<int, ExpertRouting> _byLayer = [];

        public void OnRouted(int layer, ForwardBatch batch, ExpertRouting routing) => _byLayer[layer] = routing;

        public ExpertRouting? Get(int layer) => _byLayer.GetValueOrDefault(layer);

        public IEnumerable<int> Layers => _byLayer.Keys.Order();
    }
}
