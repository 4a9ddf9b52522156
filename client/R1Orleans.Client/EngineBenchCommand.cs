using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using R1Orleans.Backend;
using R1Orleans.Checkpoint;
using R1Orleans.Client.Benchmarks;
using R1Orleans.Cuda;
using R1Orleans.Cuda.Forward;
using R1Orleans.Engine;

namespace R1Orleans.Client;

/// <summary>
/// `r1 bench-engine`: CPU prefill and decode tokens/s of checkpoints (golden cases, a synthetic config), each against the
/// memory-bandwidth and matrix-rate ceilings measured in the same run.
/// </summary>
public static class EngineBenchCommand
{
    public static Command Create()
    {
        var models = new Option<string[]>("--model") { Description = "Checkpoint directory to benchmark (repeatable)", AllowMultipleArgumentsPerToken = true };
        var synthetic = new Option<string[]>("--synthetic") { Description = "Synthetic config to generate and benchmark: tiny, medium, or v3-reduced (DeepSeek-V3's widths, 4 layers, ~39 GB; --device cuda:N only) (repeatable)", AllowMultipleArgumentsPerToken = true };
        var prompt = new Option<int>("--prompt-tokens") { Description = "Prefill length", DefaultValueFactory = _ => 128 };
        var context = new Option<int>("--context") { Description = "Context length before decode", DefaultValueFactory = _ => 64 };
        var steps = new Option<int>("--steps") { Description = "Decode steps timed", DefaultValueFactory = _ => 16 };
        var batches = new Option<int[]>("--batch") { Description = "Decode batch sizes", DefaultValueFactory = _ => [1, 8], AllowMultipleArgumentsPerToken = true };
        var repeats = new Option<int>("--repeats") { Description = "Prefill repeats (median)", DefaultValueFactory = _ => 3 };
        var threads = new Option<int?>("--threads") { Description = "CPU threads (default: all cores)" };
        var json = new Option<string?>("--json") { Description = "Also write the results as JSON to this file" };
        var attention = new Option<AttentionKernel>("--attention") { Description = "Attention kernels (prefill and decode): Tiled (default) or PerHead (the reference, for A/B timing)", DefaultValueFactory = _ => AttentionKernel.Tiled };
        var parallelThreshold = new Option<long>("--parallel-threshold") { Description = "Multiply-adds below which a Linear stays on one thread", DefaultValueFactory = _ => CpuBackend.DefaultParallelThreshold };
        var weights = new Option<string>("--weights") { Description = "How FP8 checkpoints' linear weights are held: fp8 (codes + block scales, default) or float32 (dequantized at load, for A/B)", DefaultValueFactory = _ => "fp8" };
        var device = new Option<string>("--device") { Description = "Where the math runs: cpu (default) or cuda:N (then the ceiling is the device's copy bandwidth)", DefaultValueFactory = _ => "cpu" };
        var serving = new Option<bool>("--serving") { Description = "Also measure decode through the serving engine (scheduler, sampler), with and without MTP drafts" };
        var command = new Command("bench-engine", "Engine prefill/decode throughput (cpu, or --device cuda:N) against the ceilings measured in the same run (the CPU's read bandwidth and matrix rate, or the device's copy bandwidth)")
        {
            models, synthetic, prompt, context, steps, batches, repeats, threads, json, serving, attention, parallelThreshold, device, weights,
        };
        command.SetAction(p => Run(
            p.GetValue(models) ?? [], p.GetValue(synthetic) ?? [], p.GetValue(prompt), p.GetValue(context), p.GetValue(steps),
            p.GetValue(batches) ?? [1], p.GetValue(repeats), p.GetValue(threads) ?? Environment.ProcessorCount, p.GetValue(json), p.GetValue(serving), p.GetValue(attention), p.GetValue(parallelThreshold), p.GetValue(device), p.GetValue(weights)));
        return command;
    }

    private static int Run(string[] models, string[] synthetic, int prompt, int context, int steps, int[] batches, int repeats, int threads, string? json, bool serving, AttentionKernel attention, long parallelThreshold, string? device, string? weights)
    {
        if (weights is not ("fp8" or "float32"))
        {
            Console.Error.WriteLine($"error: --weights '{weights}' is not fp8 or float32");
            return 2;
        }

        if (!ComputeDevice.TryParse(device, out ComputeDevice where))
        {
            Console.Error.WriteLine($"error: --device '{device}' is not {ComputeDevice.Forms}");
            return 2;
        }

        IComputeBackend backend;
        try
        {
            backend = where.IsCuda ? BackendFactory.Create(where) : new CpuBackend(threads, attention, parallelThreshold);
        }
        catch (Exception e) when (BackendFactory.IsDeviceFailure(e))
        {
            Console.Error.WriteLine($"error: --device {where}: {e.Message}");
            return 2;
        }

        try
        {
            return Run(models, synthetic, prompt, context, steps, batches, repeats, threads, json, serving, attention, parallelThreshold, backend, keepFp8: weights == "fp8");
        }
        finally
        {
            (backend as IDisposable)?.Dispose();
        }
    }

    private static int Run(string[] models, string[] synthetic, int prompt, int context, int steps, int[] batches, int repeats, int threads, string? json, bool serving, AttentionKernel attention, long parallelThreshold, IComputeBackend backend, bool keepFp8)
    {
        if (RefusedOnCpu(synthetic, backend) is string refusal)
        {
            Console.Error.WriteLine($"error: {refusal}");
            return 2;
        }

        var dirs = models.Select(m => (Name: Path.GetFileName(Path.TrimEndingDirectorySeparator(m)), Dir: m)).ToList();
        foreach (string s in synthetic)
        {
            dirs.Add(("synthetic-" + s, EnsureSynthetic(s)));
        }

        if (dirs.Count == 0)
        {
            Console.Error.WriteLine("error: give --model DIR or --synthetic tiny|medium");
            return 2;
        }

        HardwareCeiling ceiling;
        if (backend is CudaBackend gpu)
        {
            Console.Error.WriteLine("measuring the device's copy bandwidth...");
            ceiling = HardwareCeiling.ForDevice(DeviceCopyBandwidth.Measure(gpu.Context));
            Console.WriteLine($"device: {gpu.Name}; copy bandwidth {ceiling.ReadBytesPerSecond / 1e9:0} GB/s (cuMemcpyDtoD of 1 GiB, read + write, median of 10); its matrix rate is not measured here (r1-gpucheck, torch_moe.py)");
        }
        else
        {
            Console.Error.WriteLine($"measuring ceilings with {threads} threads...");
            ceiling = HardwareCeiling.Measure(threads);
            Console.WriteLine($"machine: {Environment.ProcessorCount} cores, {threads} threads; read bandwidth {ceiling.ReadBytesPerSecond / 1e9:0.0} GB/s, matrix rate {ceiling.FlopsPerSecond / 1e9:0.0} GFLOP/s (medians)");
        }

        var prefillRows = new List<string[]>();
        var decodeRows = new List<string[]>();
        var servingRows = new List<string[]>();
        var phaseRows = new List<string[]>();
        using StepPhaseListener? phases = backend is CudaBackend ? new StepPhaseListener() : null;
        var results = new List<object>();
        Console.WriteLine(backend is CpuBackend
            ? $"attention kernels: {attention}; Linear goes parallel from {parallelThreshold} multiply-adds"
            : $"backend: {backend.Name}, {DeviceModelAccelerator.ModeDescription()}");
        foreach ((string name, string dir) in dirs)
        {
            Console.Error.WriteLine($"{name}: loading {dir}");
            using LoadedModel model = LoadedModel.Load(dir, backend, new ModelLoadOptions { WithMtp = serving, KeepFp8Weights = keepFp8, Accelerator = backend is CudaBackend cuda ? DeviceModelAccelerator.For(cuda) : null });
            bool fp8Resident = keepFp8 && model.Config.Quantization is not null;
            ResidentMemory memory = ResidentMemory.Measure();
            Console.WriteLine($"{name}: weights {(fp8Resident ? "FP8 (codes + block scales)" : "float32")}: {model.WeightBytes / 1e6:0.0} MB resident (sum of ByteSize); process after load: {memory}");
            results.Add(new { model = name, kind = "memory", fp8_weights = fp8Resident, weight_bytes = model.WeightBytes, rss_bytes = memory.RssBytes, rss_anon_bytes = memory.RssAnonBytes });
            var bench = new EngineBenchmark(model, ceiling, fp8Resident: fp8Resident);
            int p = Math.Min(prompt, model.Config.MaxPositionEmbeddings);
            PrefillResult pr = bench.Prefill(p, repeats);
            prefillRows.Add([name, p.ToString(CultureInfo.InvariantCulture), F(pr.Seconds * 1e3, "0.0"), F(pr.TokensPerSecond, "0"),
                ceiling.HasMatrixRate ? F(pr.FloorSeconds * 1e3, "0.00") : "-", ceiling.HasMatrixRate ? F(pr.OfCeiling * 100, "0.0") + "%" : "-"]);
            results.Add(new { model = name, kind = "prefill", tokens = p, seconds = pr.Seconds, tokens_per_second = pr.TokensPerSecond, floor_seconds = ceiling.HasMatrixRate ? pr.FloorSeconds : (double?)null });
            foreach (int b in batches)
            {
                int ctx = Math.Min(context, model.Config.MaxPositionEmbeddings - steps - 1);
                phases?.Reset();
                DecodeResult dr = bench.Decode(b, ctx, steps);
                if (phases?.Medians() is { Count: > 0 } m)
                {
                    phaseRows.Add([name, b.ToString(CultureInfo.InvariantCulture), .. m.Select(p => $"{p.Phase} {F(p.MedianMs, "0.000")}")]);
                    results.Add(new { model = name, kind = "decode-phases", batch = b, median_ms = m.ToDictionary(p => p.Phase, p => p.MedianMs) });
                }

                decodeRows.Add([name, b.ToString(CultureInfo.InvariantCulture), ctx.ToString(CultureInfo.InvariantCulture), F(dr.SecondsPerStep * 1e3, "0.00"), F(dr.TokensPerSecond, "0.0"), F(dr.BytesPerStep / 1e6, "0.0"), F(dr.FlopsPerStep / 1e9, "0.00"), F(dr.FloorSecondsPerStep * 1e3, "0.00"), F(dr.OfCeiling * 100, "0.0") + "%"]);
                if (serving)
                {
                    foreach (bool mtp in model.Model.Mtp is null ? [false] : new[] { false, true })
                    {
                        ServingResult sr = bench.ServingDecode(b, ctx, steps, mtp);
                        servingRows.Add([name, b.ToString(CultureInfo.InvariantCulture), mtp ? "mtp" : "-", sr.Tokens.ToString(CultureInfo.InvariantCulture), sr.Steps.ToString(CultureInfo.InvariantCulture), F(sr.TokensPerSecond, "0.0"), mtp ? F(sr.AcceptanceRate * 100, "0.0") + "%" : "-"]);
                        results.Add(new { model = name, kind = "serving-decode", batch = b, mtp, tokens = sr.Tokens, steps = sr.Steps, seconds = sr.Seconds, tokens_per_second = sr.TokensPerSecond, acceptance = sr.AcceptanceRate });
                    }
                }

                results.Add(new { model = name, kind = "decode", batch = b, context = ctx, seconds_per_step = dr.SecondsPerStep, tokens_per_second = dr.TokensPerSecond, bytes_per_step = dr.BytesPerStep, flops_per_step = dr.FlopsPerStep, floor_seconds_per_step = dr.FloorSecondsPerStep });
            }
        }

        Console.WriteLine();
        Console.WriteLine(ceiling.HasMatrixRate
            ? "prefill (naive MLA, one prompt, logits of the last row; ceiling = FLOPs / matrix rate)"
            : "prefill (one prompt, logits of the last row; no ceiling: the device's matrix rate is not measured here)");
        TextTable.Write(Console.Out, ["model", "tokens", "ms", "tok/s", "floor ms", "of ceiling"], prefillRows);
        Console.WriteLine();
        Console.WriteLine(ceiling.HasMatrixRate
            ? "decode (absorbed MLA through the paged cache; ceiling = max(bytes read / bandwidth, FLOPs / matrix rate))"
            : "decode (absorbed MLA through the paged cache; ceiling = bytes read / the device's copy bandwidth)");
        TextTable.Write(Console.Out, ["model", "batch", "context", "ms/step", "tok/s", "MB/step", "GFLOP/step", "floor ms", "of ceiling"], decodeRows);
        if (phaseRows.Count > 0)
        {
            Console.WriteLine();
            Console.WriteLine("decode step phases on the host (DeviceStepMetrics; medians over the run's forwards, ms): device = upload + launch or graph replay + wait");
            foreach (string[] row in phaseRows)
            {
                Console.WriteLine($"  {row[0]} batch {row[1]}: {string.Join(", ", row.Skip(2))}");
            }
        }

        if (servingRows.Count > 0)
        {
            Console.WriteLine();
            Console.WriteLine("serving decode (engine core: scheduler + sampler, greedy, prefill excluded; MTP drafts verified each step)");
            TextTable.Write(Console.Out, ["model", "batch", "spec", "tokens", "steps", "tok/s", "acceptance"], servingRows);
        }

        if (json is not null)
        {
            File.WriteAllText(json, JsonSerializer.Serialize(new { ceiling = new { read_bytes_per_second = ceiling.ReadBytesPerSecond, flops_per_second = ceiling.HasMatrixRate ? ceiling.FlopsPerSecond : (double?)null, threads, device = backend is CudaBackend ? backend.Name : null }, results }, new JsonSerializerOptions { WriteIndented = true }));
        }

        return 0;
    }

    /// <summary>Writes the synthetic checkpoint once into the user cache and reuses it.</summary>
    private static string EnsureSynthetic(string name)
    {
        ModelConfig config = name switch
        {
            "tiny" => SyntheticCheckpoint.TinyConfig(),
            "medium" => SyntheticCheckpoint.MediumConfig(),
            "v3-reduced" => SyntheticCheckpoint.V3ReducedConfig(),
            _ => throw new ArgumentException($"unknown synthetic config '{name}' (tiny, medium or v3-reduced)"),
        };
        string root = Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.LocalApplicationData, Environment.SpecialFolderOption.Create), "r1orleans", "synthetic", name);
        string done = Path.Combine(root, ".complete");
        if (!File.Exists(done))
        {
            Console.Error.WriteLine($"writing synthetic '{name}' checkpoint to {root} (once)...");
            Directory.CreateDirectory(root);
            var clock = System.Diagnostics.Stopwatch.StartNew();

            // v3-reduced writes ~39 GB: say how far it is every 10 s.
            using (new Timer(_ => Console.Error.WriteLine($"  {BytesIn(root) / 1e9:F1} GB written after {clock.Elapsed.TotalSeconds:F0} s"), null, 10_000, 10_000))
            {
                SyntheticCheckpoint.Write(root, config, new SyntheticCheckpointOptions(Seed: 1, Shards: 2));
            }

            Console.Error.WriteLine($"  {BytesIn(root) / 1e9:F1} GB in {clock.Elapsed.TotalSeconds:F0} s");
            File.WriteAllText(done, DateTime.UtcNow.ToString("O", CultureInfo.InvariantCulture));
        }

        return root;
    }

    /// <summary>Why a synthetic config cannot run on this backend (v3-reduced's ~45 GB of FP8 weights need a GPU), or null.</summary>
    public static string? RefusedOnCpu(IReadOnlyCollection<string> synthetic, IComputeBackend backend)
    {
        ArgumentNullException.ThrowIfNull(synthetic);
        return synthetic.Contains("v3-reduced") && backend is not CudaBackend
            ? "--synthetic v3-reduced (DeepSeek-V3's widths, ~39 GB of weights) runs on --device cuda:N only; on the CPU one step would take minutes"
            : null;
    }

    private static long BytesIn(string directory) => new DirectoryInfo(directory).EnumerateFiles().Sum(f => f.Length);

    private static string F(double v, string format) => v.ToString(format, CultureInfo.InvariantCulture);
}
