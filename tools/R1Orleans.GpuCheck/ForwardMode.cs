using System.Globalization;
using System.Text.Json;
using R1Orleans.Backend;
using R1Orleans.Checkpoint;
using R1Orleans.Conformance;
using R1Orleans.Cuda;
using R1Orleans.Cuda.Forward;
using R1Orleans.Engine;
using R1Orleans.Model;

namespace R1Orleans.GpuCheck;

/// <summary>
/// r1-gpucheck --forward GOLDEN_DIR: the device-resident forward (src/R1Orleans.Cuda.Forward) — its own kernels one
/// by one against the CPU (ForwardOpChecks) and its tensor-core linears (TensorCoreLinearChecks); every golden case through it with the golden checks and tolerances, and
/// through the engine's path to it (DeviceModelAccelerator); the fast FP8 expert kernels against the reference kernels inside
/// the same forward; then the reduced-depth, full-width model decoding at batch 1 and 64 against its per-op floors.
/// </summary>
public static class ForwardMode
{
    public const double FastExpertsTolerance = 1e-2;

    public const double FastEngineTolerance = 5e-2;

    /// <summary>The forward's kernels one by one (ForwardOpChecks) and its tensor-core linears (TensorCoreLinearChecks).</summary>
    public static IEnumerable<CheckResult> OpChecks(CudaContext context, KernelLibrary kernels)
    {
        using CudaStream stream = context.CreateStream();
        foreach (CheckResult c in ForwardOpChecks.Run(context, kernels, stream, new Random(29)).Concat(TensorCoreLinearChecks.Run(context, kernels, stream, new Random(31))))
        {
            yield return c;
        }
    }

    /// <param name="ops">Run <see cref="OpChecks"/> first (run.sh has r1-gpucheck's main run do it, in its own process).</param>
    public static int Run(CudaContext context, KernelLibrary kernels, string goldenDir, int reps, string? outFile, bool checksOnly, bool ops = true)
    {
        int failed = 0;
        foreach (CheckResult op in ops ? OpChecks(context, kernels) : [])
        {
            failed += op.Passed ? 0 : 1;
            Console.WriteLine(op);
        }

        Console.WriteLine($"device forward: golden cases under {goldenDir}");
        foreach ((string name, GoldenPromptResult r) in ForwardGoldenCheck.Run(context, kernels, goldenDir))
        {
            failed += r.Passed ? 0 : 1;
            Console.WriteLine($"{(r.Passed ? "PASS" : "FAIL")} {name} prompt {r.Prompt} ({r.Tokens} tokens): logits max rel err {r.LogitRelError:E2} (tol {GoldenTolerance.Logits:E0}), routing {r.RoutingMismatches}/{r.RoutedDecisions} mismatched, weight err {r.RoutingWeightError:E2}, greedy {r.GreedyTokens - r.GreedyMismatches}/{r.GreedyTokens}");
        }

        // The engine's path to the same forward: GoldenChecker over a CPU-loaded model with DeviceModelAccelerator
        // installed (prefill, then greedy steps that replay a CUDA graph per batch size; the MTP head on the CPU).
        foreach (string dir in Directory.GetDirectories(goldenDir).Where(GoldenCase.IsModelCase).Order(StringComparer.Ordinal))
        {
            GoldenReport report = GoldenChecker.Check(dir, new CpuBackend(), accelerator: (m, e, r) => new DeviceModelAccelerator(context, kernels, m, e, r, maxRows: 64));
            failed += report.Passed ? 0 : 1;
            Console.WriteLine($"{(report.Passed ? "PASS" : "FAIL")} engine through DeviceModelAccelerator, {report.Case}: " + string.Join("; ", report.Prompts.Select(p =>
                $"prompt {p.Prompt} logits {p.LogitRelError:E2}, routing {p.RoutingMismatches}/{p.RoutedDecisions}, greedy {p.GreedyTokens - p.GreedyMismatches}/{p.GreedyTokens}{(p.MtpRelError is double mtp ? $", mtp {mtp:E2}" : string.Empty)}")));
        }

        CheckResult fastEngine = FastAcceleratorAgainstExact(context, kernels);
        failed += fastEngine.Passed ? 0 : 1;
        Console.WriteLine(fastEngine);

        CheckResult fastVsRef = FastAgainstReference(context, kernels, new DeviceForwardOptions());
        failed += fastVsRef.Passed ? 0 : 1;
        Console.WriteLine(fastVsRef);
        CheckResult fastLinears = FastAgainstReference(context, kernels, new DeviceForwardOptions { FastLinears = true });
        failed += fastLinears.Passed ? 0 : 1;
        Console.WriteLine(fastLinears);
        CheckResult fastAll = FastAgainstReference(context, kernels, DeviceForwardOptions.Fast);
        failed += fastAll.Passed ? 0 : 1;
        Console.WriteLine(fastAll);

        // V3's attention shapes (64 heads per mla_decode CTA, latent 512 + rope 64): the fast decode step attends through
        // mla_decode over the BF16 copy of the cache.
        CheckResult fastMla = FastAgainstReference(context, kernels, DeviceForwardOptions.Fast, SyntheticCheckpoint.MediumConfig() with
        {
            NumHiddenLayers = 2, NumAttentionHeads = 64, KvLoraRank = 512, QkRopeHeadDim = 64, QkNopeHeadDim = 128, VHeadDim = 128,
        });
        failed += fastMla.Passed ? 0 : 1;
        Console.WriteLine(fastMla);
        CheckResult pdl = ProgrammaticLaunchChangesNothing(context, kernels);
        failed += pdl.Passed ? 0 : 1;
        Console.WriteLine(pdl);

        // The shared expert inside the routed FP8 step (off by default; checked and timed here before it is turned on),
        // last: a fault in it ends the process, and nothing measured before it is lost.
        int FoldCheck()
        {
            CheckResult folded = FastAgainstReference(context, kernels, DeviceForwardOptions.Fast with { SharedExpertInRoutedStep = true }, SyntheticCheckpoint.MediumConfig() with
            {
                NumHiddenLayers = 2, NumAttentionHeads = 64, KvLoraRank = 512, QkRopeHeadDim = 64, QkNopeHeadDim = 128, VHeadDim = 128,
            });
            Console.WriteLine(folded);
            return folded.Passed ? 0 : 1;
        }

        if (checksOnly)
        {
            failed += FoldCheck();
            Console.WriteLine($"device forward checks: {failed} failed");
            return failed == 0 ? 0 : 1;
        }

        using CudaStream stream = context.CreateStream();
        Bandwidth bw = MoeBench.MeasureBandwidth(context, kernels, stream, reps);
        Console.WriteLine($"bandwidth: {bw}");
        ModelConfig c = ReducedModelBench.Config();
        var results = new List<ReducedModelResult>();
        using (DeviceModelWeights weights = RandomDeviceWeights.Build(context, kernels, stream, c, seed: 5, maxTokens: 256, reference: false))
        {
            (long free, long total) = context.MemoryInfo();
            Console.WriteLine($"reduced model: V3 widths, vocab {c.VocabSize}, {c.FirstKDenseReplace} dense + {c.NumHiddenLayers - c.FirstKDenseReplace} MoE layers; device memory used {(total - free) / 1e9:F1} of {total / 1e9:F1} GB");
            // Each batch size with everything in float32 on CUDA cores but the routed experts, with the FP8 linears on
            // tensor cores through DenseFp8Mma, and in fast mode (every dense matrix through DenseMma: FP8 linears, and
            // lm_head and the absorbed projections in BF16).
            // The modes measured on a GPU before go first: a fault in a newer one loses only its own rows.
            // Last, the fast mode with ordinary launches (A/B against programmatic dependent launch, the default).
            // and with the shared expert inside the routed step (A/B against the fast mode's rows; off by default).
            DeviceForwardOptions[] modes = [new DeviceForwardOptions(), new DeviceForwardOptions { FastLinears = true }, DeviceForwardOptions.Fast, DeviceForwardOptions.Fast with { ProgrammaticLaunch = false }, DeviceForwardOptions.Fast with { SharedExpertInRoutedStep = true }];
            foreach (DeviceForwardOptions mode in modes)
            {
                foreach (int batch in new[] { 1, 64 })
                {
                    try
                    {
                        results.Add(ReducedModelBench.Run(context, kernels, weights, bw.Copy, batch, prompt: 32, steps: 2 * reps, mode, seed: 11));
                    }
                    catch (CudaException e)
                    {
                        failed++;
                        Console.WriteLine($"FAIL reduced model, batch {batch}, {mode}: {e.Message}");
                    }
                }
            }
        }

        Console.WriteLine();
        Console.WriteLine($"Reduced model decode (copy {bw.Copy:F0} GB/s; floors = bytes read / copy; medians of {reps} eager and {reps} graph steps)");
        Console.WriteLine($"{"batch",5} {"mode",-8} {"ctx",4} {"eager ms",8} {"graph ms",8} {"wall ms",8} {"tok/s",8} {"floor ms",8} {"graph/floor",11} {"GFLOP",6}  per layer ms (floor ms) ... head; experts read per MoE layer");
        foreach (ReducedModelResult r in results)
        {
            string layers = string.Join("  ", r.LayerMs.Select((m, i) => string.Create(CultureInfo.InvariantCulture, $"{m:F3} ({r.LayerFloorMs[i]:F3})")));
            Console.WriteLine($"{r.Batch,5} {r.Mode,-8} {r.Context,4} {r.EagerStepMs,8:F3} {r.GraphStepMs,8:F3} {r.WallStepMs,8:F3} {r.TokensPerSecond,8:F0} {r.FloorMs,8:F3} {r.GraphOverFloor,11:F2} {r.Gflop,6:F0}  {layers}; experts {string.Join("/", r.UniqueExperts)}");
        }

        Console.WriteLine("Per op, ms per step summed over layers (median of 3 profiled eager steps):");
        foreach (ReducedModelResult r in results)
        {
            Console.WriteLine($"  batch {r.Batch,2} {r.Mode,-8}: {string.Join(", ", r.OpMs.OrderByDescending(p => p.Value).Select(p => string.Create(CultureInfo.InvariantCulture, $"{p.Key} {p.Value:F3}")))}");
        }

        if (outFile is not null)
        {
            File.WriteAllText(outFile, JsonSerializer.Serialize(new { device = context.Name, date = DateTime.UtcNow.ToString("O"), bandwidth = bw, fastVsRef, fastLinears, fastAll, fastMla, reduced = results }, new JsonSerializerOptions { WriteIndented = true, NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals }));
        }

        failed += FoldCheck();
        Console.WriteLine($"device forward: {failed} failed");
        return failed == 0 ? 0 : 1;
    }

    /// <summary>
    /// The engine's path with R1ORLEANS_DEVICE_FORWARD=fast against =1 on a synthetic medium-width FP8 checkpoint
    /// (1 dense + 1 MoE layer, 64 experts): the fast accelerator packs the loaded experts for MoeFp8Experts and puts the
    /// FP8 linears on tensor cores; 3 prompts prefilled and 4 greedy steps (graphs from the second), logits compared.
    /// </summary>
    private static CheckResult FastAcceleratorAgainstExact(CudaContext context, KernelLibrary kernels)
    {
        string dir = Path.Combine(Path.GetTempPath(), $"r1-forward-medium-{Environment.ProcessId}");
        SyntheticCheckpoint.Write(dir, SyntheticCheckpoint.MediumConfig() with { NumHiddenLayers = 2 });
        try
        {
            // The fast run is fed the exact run's greedy tokens, so that both compute the same steps.
            var fed = new List<int[]>();
            float[] Run(bool fast)
            {
                using LoadedModel m = LoadedModel.Load(dir, new CpuBackend(), new ModelLoadOptions { WithMtp = false, Accelerator = (mm, e, r) => new DeviceModelAccelerator(context, kernels, mm, e, r, maxRows: 64, fast: fast) });
                PagedLatentCache cache = m.NewCache(512);
                var rng = new Random(23);
                int[][] prompts = [.. Enumerable.Range(0, 3).Select(i => Enumerable.Range(0, 20 + (7 * i)).Select(_ => rng.Next(m.Config.VocabSize)).ToArray())];
                PagedSequenceCache[] seqs = [.. prompts.Select(_ => cache.NewSequence())];
                for (int i = 0; i < prompts.Length; i++)
                {
                    seqs[i].Reserve(prompts[i].Length + 4);
                }

                var all = new List<float>();
                ModelOutput o = m.Model.Forward(BatchBuilder.Prefill(prompts, seqs));
                all.AddRange(o.Logits);
                int[] next = [.. ModelOutput.LastRows(BatchBuilder.Prefill(prompts, seqs)).Select(r => ArgMax(o.LogitsOf(r)))];
                for (int step = 0; step < 4; step++)
                {
                    if (fast)
                    {
                        next = fed[step];
                    }
                    else
                    {
                        fed.Add(next);
                    }

                    int[] positions = [.. prompts.Select(p => p.Length + step)];
                    var batch = new ForwardBatch
                    {
                        Tokens = next,
                        Sequences = [.. seqs.Select((s, i) => new SequenceSlice(i, 1, positions[i], s))],
                    };
                    ModelOutput d = m.Model.Forward(batch);
                    all.AddRange(d.Logits);
                    next = [.. Enumerable.Range(0, prompts.Length).Select(i => ArgMax(d.LogitsOf(i)))];
                }

                return [.. all];
            }

            float[] exact = Run(false);
            float[] fast = Run(true);
            // Looser than the forward's own check: f16 activations before the router may flip a near-tie choice for a
            // row (a few percent of relative L2 over this many rows); a wiring or layout error gives about 1.
            return new CheckResult("engine through DeviceModelAccelerator, fast vs exact (medium FP8)", FastEngineTolerance, Agreement.Of(fast, exact));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    private static int ArgMax(ReadOnlySpan<float> v)
    {
        int best = 0;
        for (int i = 1; i < v.Length; i++)
        {
            best = v[i] > v[best] ? i : best;
        }

        return best;
    }

    /// <summary>
    /// A medium-width model (1 dense + 1 MoE layer, FP8, random) through the same forward twice: routed experts (and
    /// as the options ask, the FP8 linears — through DenseFp8Mma kv_a_proj is padded from 288 rows to 384 — or every
    /// dense matrix through DenseMma) through the fast tensor-core kernels and everything through the reference kernels
    /// (float32); a prefill of 4 prompts and one decode step, logits compared. The MoE layer is the last one, so a row
    /// whose top-k set differs between the two (rounded activations before the router flip near-ties: BF16's 8-bit
    /// significand flips several of 40 rows, each changing that row's logits by tens of percent, and nothing else) is
    /// left out of the comparison and counted; the check fails if more than a quarter of the rows flip, or if the rows
    /// that routed alike differ by more than the tolerance (a layout or wiring error gives about 1 on every row).
    /// </summary>
    private static CheckResult FastAgainstReference(CudaContext context, KernelLibrary kernels, DeviceForwardOptions options, ModelConfig? config = null)
    {
        ModelConfig c = config ?? SyntheticCheckpoint.MediumConfig() with { NumHiddenLayers = 2 };
        using CudaStream stream = context.CreateStream();
        using DeviceModelWeights weights = RandomDeviceWeights.Build(context, kernels, stream, c, seed: 3, maxTokens: 64, reference: true);
        const int BlockSize = 16, Prompts = 4, Prompt = 9, TableWidth = 2;
        using var cache = new DeviceLatentCache(context, c.NumHiddenLayers, c.LatentCacheDim, Prompts * TableWidth, BlockSize);
        using var fast = new DeviceForward(context, kernels, weights, cache, Prompts * Prompt, Prompts, TableWidth, options);
        using var reference = new DeviceForward(context, kernels, weights, cache, Prompts * Prompt, Prompts, TableWidth, new DeviceForwardOptions { ReferenceExperts = true });
        var rng = new Random(17);
        DeviceSequence[] seqs = [.. Enumerable.Range(0, Prompts).Select(_ => cache.NewSequence())];
        StepPlan prefill = StepPlan.Build([.. seqs.Select(s => s.Append([.. Enumerable.Range(0, Prompt).Select(_ => rng.Next(c.VocabSize))]))], BlockSize, cache.Blocks, TableWidth, c.VocabSize);
        StepPlan decode = StepPlan.Build([.. seqs.Select(s => s.Append([rng.Next(c.VocabSize)]))], BlockSize, cache.Blocks, TableWidth, c.VocabSize);
        var actual = new List<float>();
        var expected = new List<float>();
        int rows = 0, flipped = 0, vocab = c.VocabSize;
        foreach (StepPlan p in new[] { prefill, decode })
        {
            fast.PoisonActivations();
            fast.Run(p);
            float[] a = fast.DownloadLogits(p.Rows);
            IReadOnlyDictionary<int, (int[] Ids, float[] Weights)> ra = fast.DownloadAllRouting(p.Rows);
            reference.PoisonActivations();
            reference.Run(p);
            float[] e = reference.DownloadLogits(p.Rows);
            IReadOnlyDictionary<int, (int[] Ids, float[] Weights)> re = reference.DownloadAllRouting(p.Rows);
            for (int r = 0; r < p.Rows; r++)
            {
                rows++;
                if (ra.Keys.Any(l => !SameExperts(ra[l].Ids, re[l].Ids, r, c.NumExpertsPerTok)))
                {
                    flipped++;
                    continue;
                }

                actual.AddRange(a.AsSpan(r * vocab, vocab).ToArray());
                expected.AddRange(e.AsSpan(r * vocab, vocab).ToArray());
            }
        }

        string what = (options.FastLinears ? " + FP8 linears (DenseFp8Mma)" : string.Empty) + (options.DenseTensorCores ? " + dense_mma (FP8 linears, BF16 lm_head/absorbed)" : string.Empty)
            + (fast.DecodesOnTensorCores ? $" + mla_decode ({c.NumAttentionHeads} heads)" : string.Empty)
            + (options.SharedExpertInRoutedStep ? (fast.FoldsSharedExperts ? " + shared expert in the routed step" : " + shared expert in the routed step ASKED FOR BUT NOT RUN") : string.Empty);

        // More than a quarter of the rows routed apart fails outright (the tolerance cannot pass on an infinite error);
        // so does a shared expert asked to run inside the routed step that did not (the check would compare nothing new).
        bool notRun = options.SharedExpertInRoutedStep && !fast.FoldsSharedExperts;
        Agreement agreement = flipped * 4 > rows || actual.Count == 0 || notRun ? Agreement.Of([float.PositiveInfinity], [0f]) : Agreement.Of([.. actual], [.. expected]);
        return new CheckResult($"device forward, fast experts{what} vs reference [{prefill.Rows}+{decode.Rows}], {flipped} of {rows} rows routed apart (left out)", FastExpertsTolerance, agreement);
    }

    /// <summary>
    /// Programmatic dependent launch changes no bit: the fast forward at V3's attention shapes (mla_decode) with every
    /// kernel launched programmatically, against the same forward with ordinary launches, over the same weights and
    /// cache: a prefill of 4 prompts and a decode step eager, then a decode step replayed from a captured graph; logits
    /// compared bit for bit (tolerance 0: the same kernels run in the same order, so only a kernel that read its inputs
    /// before its predecessor finished could differ).
    /// </summary>
    private static CheckResult ProgrammaticLaunchChangesNothing(CudaContext context, KernelLibrary kernels)
    {
        ModelConfig c = SyntheticCheckpoint.MediumConfig() with
        {
            NumHiddenLayers = 2, NumAttentionHeads = 64, KvLoraRank = 512, QkRopeHeadDim = 64, QkNopeHeadDim = 128, VHeadDim = 128,
        };
        using CudaStream stream = context.CreateStream();
        using DeviceModelWeights weights = RandomDeviceWeights.Build(context, kernels, stream, c, seed: 3, maxTokens: 64, reference: false);
        const int BlockSize = 16, Prompts = 4, Prompt = 9, TableWidth = 2;
        using var cache = new DeviceLatentCache(context, c.NumHiddenLayers, c.LatentCacheDim, Prompts * TableWidth, BlockSize);
        using var on = new DeviceForward(context, kernels, weights, cache, Prompts * Prompt, Prompts, TableWidth, DeviceForwardOptions.Fast with { ProgrammaticLaunch = true });
        using var off = new DeviceForward(context, kernels, weights, cache, Prompts * Prompt, Prompts, TableWidth, DeviceForwardOptions.Fast with { ProgrammaticLaunch = false });
        var rng = new Random(23);
        DeviceSequence[] seqs = [.. Enumerable.Range(0, Prompts).Select(_ => cache.NewSequence())];
        StepPlan Step(int tokens) => StepPlan.Build([.. seqs.Select(s => s.Append([.. Enumerable.Range(0, tokens).Select(_ => rng.Next(c.VocabSize))]))], BlockSize, cache.Blocks, TableWidth, c.VocabSize);
        var a = new List<float>();
        var b = new List<float>();
        foreach (StepPlan p in new[] { Step(Prompt), Step(1) })
        {
            on.PoisonActivations();
            on.Run(p);
            a.AddRange(on.DownloadLogits(p.Rows));
            off.PoisonActivations();
            off.Run(p);
            b.AddRange(off.DownloadLogits(p.Rows));
        }

        StepPlan last = Step(1);
        foreach ((DeviceForward f, List<float> into) in new[] { (on, a), (off, b) })
        {
            f.PoisonActivations();
            f.Upload(last);
            using CudaGraph graph = f.CaptureStep(last.Rows);
            graph.Launch(f.Stream);
            into.AddRange(f.DownloadLogits(last.Rows));
        }

        int differ = a.Zip(b).Count(x => BitConverter.SingleToInt32Bits(x.First) != BitConverter.SingleToInt32Bits(x.Second));
        Console.WriteLine($"  programmatic launch: {(on.Stream.ProgrammaticSerialization ? "on" : "off (the device has no PDL)")}; {differ} of {a.Count} logits differ in any bit");
        Agreement agreement = differ > 0 ? Agreement.Of([float.PositiveInfinity], [0f]) : Agreement.Of([.. a], [.. b]);
        return new CheckResult($"device forward, fast, programmatic launch vs ordinary, bit for bit [{Prompts * Prompt}+{Prompts}+{Prompts} graph]", 0, agreement);
    }

    /// <summary>Whether row <paramref name="row"/> chose the same set of experts in both routings (order aside).</summary>
    private static bool SameExperts(int[] a, int[] b, int row, int k) =>
        a.AsSpan(row * k, k).ToArray().Order().SequenceEqual(b.AsSpan(row * k, k).ToArray().Order());
}
