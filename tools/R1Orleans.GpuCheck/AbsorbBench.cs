using System.Globalization;
using R1Orleans.Cuda;
using R1Orleans.Cuda.Forward;

namespace R1Orleans.GpuCheck;

/// <summary>
/// The absorbed projections' launches one by one at V3's attention shapes (128 heads, nope 128, rope 64, latent 512,
/// v 128), each as a CUDA graph of 20 back-to-back copies with programmatic dependent launch as the forward runs them:
/// W_UK and W_UV through the tensor-core path (to_bf16, then dense_bf16) and through dense_bf16_gemv, copy_rope, and an
/// empty launch (copy_rope over no heads) for the per-launch floor; microseconds per launch against the weight bytes
/// over the copy bandwidth measured in the same run. What the reduced model's "mla absorb" rows are made of.
/// </summary>
public static class AbsorbBench
{
    private const int Heads = 128, Nope = 128, Rope = 64, Latent = 512, V = 128, Copies = 20;

    public static int Run(CudaContext context, KernelLibrary kernels, int reps)
    {
        using CudaStream stream = context.CreateStream();
        Bandwidth bw = MoeBench.MeasureBandwidth(context, kernels, stream, reps);
        stream.ProgrammaticSerialization = context.ComputeCapability.Major >= 9;
        var k = new ForwardKernels(kernels);
        using var dense = new DenseMma(context, kernels);
        var rng = new Random(3);
        using DeviceBuffer wukF = Upload(context, Rng.Uniform(rng, Heads * Latent * Nope, -0.1f, 0.1f));
        using DeviceBuffer wuvF = Upload(context, Rng.Uniform(rng, Heads * V * Latent, -0.1f, 0.1f));
        using PackedMatrix wuk = dense.PackBf16(stream, wukF.Pointer, Heads, Latent, Nope);
        using PackedMatrix wuv = dense.PackBf16(stream, wuvF.Pointer, Heads, V, Latent);
        const int MaxRows = 64;
        using DeviceBuffer q = Upload(context, Rng.Uniform(rng, MaxRows * Heads * (Nope + Rope), -1f, 1f));
        using DeviceBuffer oLat = Upload(context, Rng.Uniform(rng, MaxRows * Heads * Latent, -1f, 1f));
        using DeviceBuffer qAbs = context.Allocate((long)MaxRows * Heads * (Latent + Rope) * 4);
        using DeviceBuffer attn = context.Allocate((long)MaxRows * Heads * V * 4);
        using DeviceBuffer x16 = context.Allocate((long)MaxRows * Heads * Latent * 2);
        using CudaEvent start = context.CreateEvent(), end = context.CreateEvent();
        long weightBytes = (long)Heads * Latent * Nope * 2;
        double floorUs = weightBytes / (bw.Copy * 1e9) * 1e6;
        Console.WriteLine($"absorbed projections, {Heads} heads, W_UK [{Latent}, {Nope}] and W_UV [{V}, {Latent}] per head in BF16 ({weightBytes / 1e6:F1} MB each; floor {floorUs:F2} us at copy {bw.Copy:F0} GB/s)");
        Console.WriteLine($"us per launch (graphs of {Copies} back-to-back copies, median of {reps}), programmatic dependent launch {(stream.ProgrammaticSerialization ? "on" : "off")}");
        Console.WriteLine($"{"rows",4} {"launch",-32} {"us",8} {"x floor",8}");
        foreach (int rows in new[] { 1, 4, 64 })
        {
            var cases = new List<(string Name, Action Work, bool Weights)>
            {
                ("empty (copy_rope, 0 heads)", () => k.CopyRope.Launch(stream, 1, 128, 0, q, qAbs, 0, Nope, Rope, Latent), false),
                ("copy_rope", () => k.CopyRope.Launch(stream, rows, 128, 0, q, qAbs, Heads, Nope, Rope, Latent), false),
                ("to_bf16 of q", () => dense.Convert(stream, q.Pointer, (long)rows * Heads * (Nope + Rope), x16.Pointer), false),
                ("dense_bf16 W_UK", () => dense.Launch(stream, wuk, x16.Pointer, rows, Heads * (Nope + Rope), Nope + Rope, qAbs.Pointer, Heads * (Latent + Rope), Latent + Rope), true),
                ("dense_bf16 W_UV", () => dense.Launch(stream, wuv, x16.Pointer, rows, Heads * Latent, Latent, attn.Pointer, Heads * V, V), true),
            };
            if (rows <= DenseMma.GemvMaxTokens)
            {
                cases.Add(("dense_bf16_gemv W_UK", () => dense.LaunchGemv(stream, wuk, q.Pointer, rows, Heads * (Nope + Rope), Nope + Rope, qAbs.Pointer, Heads * (Latent + Rope), Latent + Rope), true));
                cases.Add(("dense_bf16_gemv W_UV", () => dense.LaunchGemv(stream, wuv, oLat.Pointer, rows, Heads * Latent, Latent, attn.Pointer, Heads * V, V), true));
            }

            foreach ((string name, Action work, bool weights) in cases)
            {
                using CudaGraph graph = CudaGraph.Capture(stream, () =>
                {
                    for (int i = 0; i < Copies; i++)
                    {
                        work();
                    }
                });
                double us = MoeBench.Median(reps, () => MoeBench.Time(stream, start, end, () => graph.Launch(stream)), warm: 3) / Copies * 1e3;
                string ratio = weights ? (us / floorUs).ToString("F2", CultureInfo.InvariantCulture) : "-";
                Console.WriteLine($"{rows,4} {name,-32} {us,8:F2} {ratio,8}");
            }
        }

        return 0;
    }

    private static DeviceBuffer Upload(CudaContext context, float[] values)
    {
        DeviceBuffer b = context.Allocate(values.Length * 4L);
        b.Upload<float>(values);
        return b;
    }
}
