using System.Text.Json;
using R1Orleans.Cuda;
using R1Orleans.GpuCheck;

// r1-gpucheck: compiles kernels/*.cu with NVRTC for the device, checks every kernel against the CPU reference, then
// times the FP8 MoE decode step at 1, 16, 64 and 256 tokens against the copy bandwidth measured in the same run, the
// MoE layer at prefill size (4,096 tokens), then MLA absorbed decode (64 x 4,096 context, 128 heads) against the
// mma.sync ceiling and KV read floor of the same run; last, the device forward's kernels one by one (ForwardMode.OpChecks).
//   r1-gpucheck [--device N] [--kernels DIR] [--cache DIR] [--out FILE.json] [--reps N] [--checks-only] [--error-case DIR]
//     (--error-case: one MoE step's inputs and output written to DIR for tools/gpu/torch_error.py)
//   r1-gpucheck --compile-only sm_90a [--kernels DIR] [--cache DIR]     (NVRTC only; no driver or GPU needed)
//   r1-gpucheck --forward GOLDEN_DIR [--reps N] [--out F] [--checks-only] [--skip-ops]   (the device-resident forward:
//                                                  its kernels (unless --skip-ops), golden cases, fast vs reference, the
//                                                  reduced full-width model's decode; ForwardMode)
//   r1-gpucheck --mla-wgmma [--reps N] [--out F]   (the wgmma MLA decode: its checks, then timed beside mma.sync;
//                                                  MlaWgmmaMode)
//   r1-gpucheck --decode-ops [--reps N]           (a decode step's small launches one by one; DecodeOpsBench)
//   r1-gpucheck --nccl [--ranks N] [--reps N]     (the expert all-to-all through NCCL between this host's GPUs; NcclCheck)
string? Arg(string name) => args.SkipWhile(a => a != name).Skip(1).FirstOrDefault();
string kernelsDir = Arg("--kernels") ?? FindKernels();
var cache = new KernelCache(Arg("--cache") ?? KernelCache.DefaultDirectory);
int device = int.Parse(Arg("--device") ?? "0", System.Globalization.CultureInfo.InvariantCulture);
int reps = int.Parse(Arg("--reps") ?? "20", System.Globalization.CultureInfo.InvariantCulture);
string? outFile = Arg("--out");

if (args.Contains("--nccl"))
{
    return NcclCheck.Run(int.Parse(Arg("--ranks") ?? "0", System.Globalization.CultureInfo.InvariantCulture), reps);
}

if (Arg("--compile-only") is string arch)
{
    var log = new List<string>();
    try
    {
        KernelLibrary.CompileFolder(kernelsDir, arch, cache, log);
    }
    catch (KernelCompilationException e)
    {
        log.ForEach(Console.WriteLine);
        Console.Error.WriteLine(e.Message);
        return 2;
    }

    log.ForEach(Console.WriteLine);
    Console.WriteLine($"NVRTC {KernelCompiler.Version()} from {KernelCompiler.LibraryPath}");
    return 0;
}

using CudaContext context = CudaContext.Open(device);
Console.WriteLine($"cuda:{device}: {context.Name}, compute capability {context.ComputeCapability} ({context.ComputeCapability.NvrtcArchitecture}), {context.MultiprocessorCount} SMs, {context.TotalMemoryBytes / (1L << 30)} GiB, driver CUDA {context.DriverVersion}");
using KernelLibrary kernels = KernelLibrary.Load(context, kernelsDir, cache);
kernels.Log.ToList().ForEach(Console.WriteLine);
Console.WriteLine($"NVRTC {KernelCompiler.Version()} from {KernelCompiler.LibraryPath}");
foreach ((int tiles, int depth, MoeRing ring) in MoeLaunchConfig.Variants)
{
    string suffix = new MoeLaunchConfig(1, tiles, 4, depth, ring).KernelSuffix;
    foreach (string k in new[] { "moe_gate_up" + suffix, "moe_down" + suffix })
    {
        (int regs, int local) = kernels.Kernel("moe_fp8", k).Resources();
        Console.WriteLine($"  {k}: {regs} registers, {local} bytes local memory");
    }
}

foreach (string k in MoePrefillConfig.Variants.SelectMany(c => new[] { "moe_prefill_gate_up" + c.KernelSuffix, "moe_prefill_down" + c.KernelSuffix }))
{
    (int regs, int local) = kernels.Kernel("moe_prefill", k).Resources();
    Console.WriteLine($"  {k}: {regs} registers, {local} bytes local memory");
}

foreach (string k in new[] { "mla_decode", "mla_decode_combine" })
{
    (int regs, int local) = kernels.Kernel("mla_decode", k).Resources();
    Console.WriteLine($"  {k}: {regs} registers, {local} bytes local memory");
}

if (args.Contains("--decode-ops"))
{
    return DecodeOpsBench.Run(context, kernels, reps);
}

if (args.Contains("--mla-wgmma"))
{
    return MlaWgmmaMode.Run(context, kernels, reps, outFile);
}

if (Arg("--forward") is string goldenDir)
{
    return ForwardMode.Run(context, kernels, goldenDir, reps, outFile, args.Contains("--checks-only"), ops: !args.Contains("--skip-ops"));
}

using CudaStream stream = context.CreateStream();
var rng = new Random(20261204);
var checks = new List<CheckResult>();
void Report(CheckResult c)
{
    checks.Add(c);
    Console.WriteLine(c);
}

foreach (CheckResult c in OpChecks.Run(context, kernels, stream, rng))
{
    Report(c);
}

foreach (CheckResult c in RopeGateChecks.Run(context, kernels, stream, rng))
{
    Report(c);
}

using (CudaBackend backend = CudaBackend.Open(device, kernelsDir, cache))
{
    foreach (CheckResult c in BackendChecks.Run(backend, rng))
    {
        Report(c);
    }

    context.MakeCurrent();
}

foreach (CheckResult c in MlaDecodeCheck.Run(context, kernels, stream, new Random(19)))
{
    Report(c);
}

if (args.Contains("--checks-only"))
{
    foreach (CheckResult c in ForwardMode.OpChecks(context, kernels))
    {
        Report(c);
    }

    int bad = checks.Count(c => !c.Passed);
    Console.WriteLine($"{checks.Count - bad} passed, {bad} failed (--checks-only: MoE and benchmarks left out)");
    return bad == 0 ? 0 : 1;
}

const int Hidden = 7168, Inter = 2048, TopK = 8;
using (var small = new MoeFp8Experts(context, kernels, experts: 8, Hidden, Inter, TopK, maxTokens: 64))
{
    using MoeWeights smallWeights = MoeWeights.Fill(context, small, kernels, stream, rng);
    foreach ((int t, MoeLaunchConfig c) in new[]
    {
        (16, new MoeLaunchConfig(1, 1, 8, 2, MoeRing.Registers)), (37, new MoeLaunchConfig(4, 4, 4, 1, MoeRing.Registers)), (37, new MoeLaunchConfig(2, 2, 8, 2, MoeRing.Registers)),
        (3, new MoeLaunchConfig(14, 1, 4, 3, MoeRing.Registers, 3)), (37, new MoeLaunchConfig(1, 1, 4, 4, MoeRing.WarpAsync, 2)), (37, new MoeLaunchConfig(3, 2, 4, 4, MoeRing.WarpAsync)),
        (37, new MoeLaunchConfig(1, 4, 4, 3, MoeRing.WarpAsync, 4)), (5, new MoeLaunchConfig(7, 1, 4, 6, MoeRing.WarpAsync)),
        (37, new MoeLaunchConfig(1, 1, 8, 4, MoeRing.CtaAsync)), (37, new MoeLaunchConfig(3, 2, 4, 4, MoeRing.CtaAsync, 2)),
        (37, new MoeLaunchConfig(2, 4, 4, 4, MoeRing.CtaAsync, 4)), (2, new MoeLaunchConfig(7, 1, 4, 6, MoeRing.CtaAsync, 3)),
    })
    {
        Report(MoeCheck.Run(small, smallWeights, stream, rng, t, c));
    }

    foreach (CheckResult c in MoePrefillCheck.Small(small, smallWeights, stream, rng))
    {
        Report(c);
    }

    // V3's widths (hidden 7168, moe_intermediate 2048), 8 experts, every token through all 8.
    if (Arg("--error-case") is string errorCase)
    {
        Report(MoeErrorCase.Write(errorCase, small, smallWeights, stream, rng, tokens: 64));
    }
}

using var moe = new MoeFp8Experts(context, kernels, experts: 256, Hidden, Inter, TopK, maxTokens: 256);
MoeWeights weights = MoeWeights.Fill(context, moe, kernels, stream, rng);
foreach ((int t, MoeLaunchConfig c) in new[]
{
    (1, MoeLaunchConfig.ForTokens(1)), (1, new MoeLaunchConfig(1, 1, 8, 2, MoeRing.Registers)), (16, MoeLaunchConfig.ForTokens(16)),
    (64, MoeLaunchConfig.ForTokens(64)), (64, new MoeLaunchConfig(4, 1, 8, 3, MoeRing.Registers, 2)), (256, MoeLaunchConfig.ForTokens(256)),
    (256, new MoeLaunchConfig(1, 2, 8, 4, MoeRing.CtaAsync)), (16, new MoeLaunchConfig(2, 1, 4, 6, MoeRing.CtaAsync, 2)),
})
{
    Report(MoeCheck.Run(moe, weights, stream, rng, t, c));
}

// Prefill-sized token counts (hundreds of tokens per expert, several passes per weight tile) on a smaller layer, so
// the CPU reference stays quick: 16 experts, hidden 1024, moe_intermediate 256, top-4.
using (var wide = new MoeFp8Experts(context, kernels, experts: 16, hidden: 1024, intermediate: 256, topK: 4, maxTokens: 1024))
{
    using MoeWeights wideWeights = MoeWeights.Fill(context, wide, kernels, stream, rng);
    Report(MoeCheck.Run(wide, wideWeights, stream, rng, 1000, MoeLaunchConfig.ForTokens(1000)));
    Report(MoeCheck.Run(wide, wideWeights, stream, rng, 777, new MoeLaunchConfig(1, 4, 4, 3, MoeRing.WarpAsync)));
    foreach (CheckResult c in MoePrefillCheck.Wide(wide, wideWeights, stream, rng))
    {
        Report(c);
    }
}

Report(MoeCheck.GraphReplay(moe, stream, rng, 1, MoeLaunchConfig.ForTokens(1)));
Report(MoeCheck.GraphReplay(moe, stream, rng, 64, MoeLaunchConfig.ForTokens(64)));
weights.Dispose(); // the benchmark needs only the packed copy

Bandwidth before = MoeBench.MeasureBandwidth(context, kernels, stream, reps);
Console.WriteLine($"before the MoE benchmark: {before}");
double copyGBps = before.Copy;
var results = new List<MoeBenchResult>();
foreach (int t in new[] { 1, 16, 64, 256 })
{
    results.Add(MoeBench.Run(context, moe, stream, rng, t, copyGBps, reps));
}

// The same layer at prefill size: 4,096 tokens (compute-bound; TFLOP/s against torch_moe.py's matrix rates).
const int PrefillTokens = 4096;
MoePrefillResult prefill;
IReadOnlyList<MoeCrossover> crossover;
using (var wideMoe = new MoeFp8Experts(context, kernels, experts: 256, Hidden, Inter, TopK, maxTokens: PrefillTokens, maxSplits: 1))
{
    MoeWeights.Fill(context, wideMoe, kernels, stream, rng).Dispose(); // only the packed copy is timed
    prefill = MoePrefillBench.Run(context, wideMoe, stream, rng, PrefillTokens, before.Read, Math.Min(reps, 10));
    crossover = MoePrefillBench.Crossover(context, wideMoe, stream, rng, Math.Min(reps, 10), 64, 128, 256, 512, 1024, 2048);
}

Report(prefill.PrefillAgreesWithDecode);

Bandwidth after = MoeBench.MeasureBandwidth(context, kernels, stream, reps);
Console.WriteLine($"after the MoE benchmark:  {after}");

Console.WriteLine();
Console.WriteLine($"MoE decode step, 256 experts top-8, hidden 7168, moe_intermediate 2048, FP8 e4m3 128x128 blocks (median of {reps}); % of copy {copyGBps:F0} GB/s, read {before.Read:F0} GB/s");
Console.WriteLine($"{"tokens",6} {"experts",7} {"floor ms",8} {"default ms",10} {"best ms",8} {"best config",-22} {"GB/s",6} {"% copy",6} {"% read",6} {"pipelined ms",12} {"graph ms",8}  per launch ms (prepare gate_up silu down combine)");
foreach (MoeBenchResult r in results)
{
    string perKernel = string.Join(" ", MoeBench.Launches.Select(n => r.KernelMs[n].ToString("F4", System.Globalization.CultureInfo.InvariantCulture)));
    Console.WriteLine($"{r.Tokens,6} {r.UniqueExperts,7} {r.FloorMs,8:F4} {r.Default.Ms,10:F4} {r.Best.Ms,8:F4} {r.Best.Config,-22} {r.Best.GBps,6:F0} {r.Best.PctCopy,6:F1} {100 * r.Best.GBps / before.Read,6:F1} {r.PipelinedMs,12:F4} {r.GraphMs,8:F4}  {perKernel}");
}

Console.WriteLine();
Console.WriteLine($"MoE prefill, {prefill.Tokens} tokens ({prefill.UniqueExperts} experts, {prefill.GFlop:F0} GFLOP; weight-read floor {prefill.WeightFloorMs:F3} ms), median of {Math.Min(reps, 10)}");
foreach (MoePrefillTiming t in prefill.Sweep)
{
    Console.WriteLine($"  {t.Config,-26} {t.Ms,8:F3} ms {t.TFlops,6:F0} TFLOP/s{(t == prefill.Best ? "  (best)" : "")}");
}

Console.WriteLine($"  best prefill {prefill.BestPrefill.Config} per launch ms: {string.Join(" ", prefill.PrefillKernelMs.Select(p => $"{p.Key} {p.Value:F4}"))}");
Console.WriteLine($"  decode vs prefill (default configs) ms: {string.Join(", ", crossover.Select(c => $"{c.Tokens} tok {c.DecodeMs:F3} / {c.PrefillMs:F3}"))}");

Console.WriteLine();
MlaBenchResult? mla = null;
Report(MlaDecodeCheck.Guarded("mla_decode benchmark", () =>
{
    mla = MlaDecodeBench.Run(context, kernels, stream, reps, before.Read);
    return new CheckResult("mla_decode benchmark output, 2 seqs x 3 heads", MlaDecodeCheck.Tolerance, mla.SpotCheck);
}));
if (mla is not null)
{
    Console.WriteLine($"MLA absorbed decode, {mla.Batch} x {mla.Context} context, {mla.Heads} heads, latent 512 + rope 64, bf16 (median of {reps}; {mla.Gflop:F1} GFLOP)");
    Console.WriteLine($"  best {mla.Best.Ms:F4} ms at {mla.Best.Splits} split(s) ({mla.Best.Tflops:F1} TFLOP/s; chosen {mla.Chosen.Splits}: {mla.Chosen.Ms:F4} ms); decode {mla.DecodeMs:F4} + combine {mla.CombineMs:F4} ms; graph {mla.GraphMs:F4} ms");
    Console.WriteLine($"  mma.sync bf16 ceiling {mla.MmaPeakTflops:F1} TFLOP/s ({mla.PctOfMmaPeak:F1}% reached); KV {mla.KvGB:F3} GB at read {mla.ReadGBps:F0} GB/s: floor {mla.KvFloorMs:F4} ms; BF16 matrix rate: torch_mla.py, same run");
}

// The device forward's own kernels and tensor-core linears last, after every benchmark above has its numbers: a new
// kernel that faults ends this process, and `--forward --skip-ops` (run.sh's next step) does not run them again.
Console.WriteLine("device forward kernels (forward.cu, dense_mma.cu, DenseFp8Mma) against the CPU:");
foreach (CheckResult c in ForwardMode.OpChecks(context, kernels))
{
    Report(c);
}

int failed = checks.Count(c => !c.Passed);
Console.WriteLine($"{checks.Count - failed} passed, {failed} failed");
if (outFile is not null)
{
    var report = new
    {
        device = context.Name,
        computeCapability = context.ComputeCapability.ToString(),
        architecture = context.ComputeCapability.NvrtcArchitecture,
        sms = context.MultiprocessorCount,
        driverCudaVersion = context.DriverVersion,
        nvrtc = KernelCompiler.Version(),
        date = DateTime.UtcNow.ToString("O"),
        bandwidthBefore = before,
        bandwidthAfter = after,
        copyGBps,
        checks = checks.Select(c => new { c.Name, c.Passed, c.Tolerance, c.Agreement }),
        moeDecode = results,
        moePrefill = prefill,
        moeCrossover = crossover,
        mlaDecode = mla,
    };
    File.WriteAllText(outFile, JsonSerializer.Serialize(report, new JsonSerializerOptions { WriteIndented = true, NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals }));
}

return failed == 0 ? 0 : 1;

static string FindKernels()
{
    foreach (string start in new[] { AppContext.BaseDirectory, Directory.GetCurrentDirectory() })
    {
        for (DirectoryInfo? d = new(start); d is not null; d = d.Parent)
        {
            string k = Path.Combine(d.FullName, "kernels");
            if (Directory.Exists(k) && Directory.GetFiles(k, "*.cu").Length > 0)
            {
                return k;
            }
        }
    }

    throw new DirectoryNotFoundException("no kernels/*.cu folder beside the program or above the current directory; pass --kernels DIR");
}
