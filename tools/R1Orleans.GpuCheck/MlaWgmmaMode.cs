using System.Text.Json;
using R1Orleans.Cuda;

namespace R1Orleans.GpuCheck;

/// <summary>
/// `r1-gpucheck --mla-wgmma`: the wgmma MLA decode (kernels/mla_decode_wgmma.cu) through every
/// <see cref="MlaDecodeCheck"/> case, then, when all pass, timed beside the mma.sync kernel at issue 19's size
/// (64 × 4,096 context, 128 heads), alternating the two three times; medians. Its own process, so that a fault in the
/// newer kernel cannot end the main check.
/// Exit code 0 when every check passes (or the device has no wgmma), 1 otherwise.
/// </summary>
public static class MlaWgmmaMode
{
    public static int Run(CudaContext context, KernelLibrary kernels, int reps, string? outFile)
    {
        (int regs, int local) = kernels.Kernel("mla_decode_wgmma", "mla_decode_wgmma").Resources();
        Console.WriteLine($"  mla_decode_wgmma: {regs} registers, {local} bytes local memory");
        if (!MlaDecodeKernels.Supports(MlaDecodeKernel.Wgmma, context.ComputeCapability))
        {
            Console.WriteLine($"compute capability {context.ComputeCapability}: no wgmma, nothing to check");
            return 0;
        }

        using CudaStream stream = context.CreateStream();
        var checks = new List<CheckResult>();
        foreach (CheckResult c in MlaDecodeCheck.Run(context, kernels, stream, new Random(19), MlaDecodeKernel.Wgmma))
        {
            checks.Add(c);
            Console.WriteLine(c);
        }

        int failed = checks.Count(c => !c.Passed);
        Console.WriteLine($"mla_decode_wgmma checks: {checks.Count - failed} passed, {failed} failed");
        var rounds = new List<(MlaDecodeKernel Kernel, MlaBenchResult Result)>();
        if (failed == 0)
        {
            double read = MoeBench.MeasureBandwidth(context, kernels, stream, reps).Read;
            for (int round = 0; round < 3; round++)
            {
                foreach (MlaDecodeKernel k in new[] { MlaDecodeKernel.Mma, MlaDecodeKernel.Wgmma })
                {
                    MlaBenchResult r = MlaDecodeBench.Run(context, kernels, stream, reps, read, kernel: k);
                    var spot = new CheckResult($"{k} benchmark output, 2 seqs x 3 heads", MlaDecodeCheck.Tolerance, r.SpotCheck);
                    Console.WriteLine(spot);
                    failed += spot.Passed ? 0 : 1;
                    rounds.Add((k, r));
                }
            }

            double Med(MlaDecodeKernel k, Func<MlaBenchResult, double> f) => MoeBench.Median(rounds.Where(x => x.Kernel == k).Select(x => f(x.Result)).ToList());
            MlaBenchResult any = rounds[0].Result;
            double mma = Med(MlaDecodeKernel.Mma, r => r.Best.Ms), wg = Med(MlaDecodeKernel.Wgmma, r => r.Best.Ms);
            double mmaChosen = Med(MlaDecodeKernel.Mma, r => r.Chosen.Ms), wgChosen = Med(MlaDecodeKernel.Wgmma, r => r.Chosen.Ms);
            double peak = Med(MlaDecodeKernel.Wgmma, r => r.MmaPeakTflops);
            Console.WriteLine();
            Console.WriteLine($"MLA absorbed decode, {any.Batch} x {any.Context} context, {any.Heads} heads ({any.Gflop:F1} GFLOP), medians of 3 alternating rounds of {reps}; KV floor {any.KvFloorMs:F4} ms at read {read:F0} GB/s");
            Console.WriteLine($"  mma.sync  best {mma:F4} ms ({any.Gflop / mma:F1} TFLOP/s), chosen splits {mmaChosen:F4} ms");
            Console.WriteLine($"  wgmma     best {wg:F4} ms ({any.Gflop / wg:F1} TFLOP/s), chosen splits {wgChosen:F4} ms; {mma / wg:F2}x mma.sync; mma.sync ceiling {peak:F1} TFLOP/s; BF16 matrix rate: torch_mla.py, same run");
            foreach ((MlaDecodeKernel k, MlaBenchResult r) in rounds)
            {
                Console.WriteLine($"  {k,-6} sweep: {string.Join(", ", r.Sweep.Select(t => $"{t.Splits} split(s) {t.Ms:F4} ms"))}; graph {r.GraphMs:F4} ms");
            }
        }

        if (outFile is not null)
        {
            var report = new
            {
                device = context.Name,
                checks = checks.Select(c => new { c.Name, c.Passed, relL2 = c.Agreement.RelativeL2, nonFinite = c.Agreement.NonFinite }),
                rounds = rounds.Select(x => new { kernel = x.Kernel.ToString(), bestMs = x.Result.Best.Ms, bestSplits = x.Result.Best.Splits, chosenMs = x.Result.Chosen.Ms, tflops = x.Result.Best.Tflops, graphMs = x.Result.GraphMs, mmaPeakTflops = x.Result.MmaPeakTflops }),
            };
            File.WriteAllText(outFile, JsonSerializer.Serialize(report, new JsonSerializerOptions { WriteIndented = true, NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals }));
        }

        Console.WriteLine(failed == 0 ? "mla_decode_wgmma: PASS" : $"mla_decode_wgmma: FAIL ({failed})");
        return failed == 0 ? 0 : 1;
    }
}
