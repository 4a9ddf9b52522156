using System.Globalization;
using R1Orleans.Cuda;
using R1Orleans.Cuda.Forward;

namespace R1Orleans.GpuCheck;

/// <summary>
/// A decode step's small launches one by one at V3's shapes (128 heads, nope 128, rope 64, latent 512, v 128, hidden
/// 7,168), each as a CUDA graph of 20 back-to-back copies with programmatic dependent launch as the forward runs them:
/// W_UK and W_UV through the tensor-core path (to_bf16, then dense_bf16) against their weight bytes over the copy
/// bandwidth measured in the same run; rope_yarn on q and copy_rope with the forward's grids and with one CTA a row (as
/// before); RMSNorm with the residual add at 1,024 threads (the row in registers, as the forward launches it at few rows)
/// and at 256 (the loop, as every row ran before); an empty launch (copy_rope over no heads) for the per-launch floor.
/// What the reduced model's "mla absorb", "mla rope + cache" and "norms" rows are made of.
/// </summary>
public static class DecodeOpsBench
{
    private const int Hidden = 7168, Heads = 128, Nope = 128, Rope = 64, Latent = 512, V = 128, Copies = 20;

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
        using DeviceBuffer qAbs = context.Allocate((long)MaxRows * Heads * (Latent + Rope) * 4);
        using DeviceBuffer attn = context.Allocate((long)MaxRows * Heads * V * 4);
        using DeviceBuffer x16 = context.Allocate((long)MaxRows * Heads * Latent * 2);
        using DeviceBuffer hidden = Upload(context, Rng.Uniform(rng, MaxRows * Hidden, -1f, 1f));
        using DeviceBuffer residual = Upload(context, Rng.Uniform(rng, MaxRows * Hidden, -1f, 1f));
        using DeviceBuffer normW = Upload(context, Rng.Uniform(rng, Hidden, 0.5f, 1.5f));
        using DeviceBuffer normed = context.Allocate(MaxRows * Hidden * 4L);
        using DeviceBuffer positions = context.Allocate(MaxRows * 4L);
        positions.Upload<int>([.. Enumerable.Range(100, MaxRows)]);
        using DeviceBuffer invFreq = context.Allocate(Rope / 2 * 8L);
        invFreq.Upload<double>([.. Enumerable.Range(0, Rope / 2).Select(i => Math.Pow(10000, -2.0 * i / Rope))]);
        using CudaEvent start = context.CreateEvent(), end = context.CreateEvent();
        long weightBytes = (long)Heads * Latent * Nope * 2;
        double floorUs = weightBytes / (bw.Copy * 1e9) * 1e6;
        Console.WriteLine($"absorbed projections, {Heads} heads, W_UK [{Latent}, {Nope}] and W_UV [{V}, {Latent}] per head in BF16 ({weightBytes / 1e6:F1} MB each; floor {floorUs:F2} us at copy {bw.Copy:F0} GB/s)");
        Console.WriteLine($"us per launch (graphs of {Copies} back-to-back copies, median of {reps}), programmatic dependent launch {(stream.ProgrammaticSerialization ? "on" : "off")}");
        Console.WriteLine($"{"rows",4} {"launch",-36} {"us",8} {"x floor",8}");
        foreach (int rows in new[] { 1, 4, 64 })
        {
            var cases = new List<(string Name, Action Work, bool Weights)>
            {
                ("empty (copy_rope, 0 heads)", () => k.CopyRope.Launch(stream, 1, 128, 0, q, qAbs, 0, Nope, Rope, Latent), false),
                ("copy_rope", () => k.CopyRope.Launch(stream, ForwardKernels.CopyRopeGrid(rows, Heads, Rope), 128, 0, q, qAbs, Heads, Nope, Rope, Latent), false),
                ("copy_rope, one CTA a row (before)", () => k.CopyRope.Launch(stream, new Dim3(1, (uint)rows), 128, 0, q, qAbs, Heads, Nope, Rope, Latent), false),
                ("rope_yarn q", () => k.Rope.Launch(stream, ForwardKernels.RopeGrid(rows, Heads, Rope / 2), 128, 0, q, positions, invFreq, BitConverter.DoubleToUInt64Bits(1.0), Heads, (long)Heads * (Nope + Rope), Nope + Rope, Nope, Rope / 2), false),
                ("rope_yarn q, one CTA a row (before)", () => k.Rope.Launch(stream, rows, 128, 0, q, positions, invFreq, BitConverter.DoubleToUInt64Bits(1.0), Heads, (long)Heads * (Nope + Rope), Nope + Rope, Nope, Rope / 2), false),
                ("to_bf16 of q", () => dense.Convert(stream, q.Pointer, (long)rows * Heads * (Nope + Rope), x16.Pointer), false),
                ("dense_bf16 W_UK", () => dense.Launch(stream, wuk, x16.Pointer, rows, Heads * (Nope + Rope), Nope + Rope, qAbs.Pointer, Heads * (Latent + Rope), Latent + Rope), true),
                ("rmsnorm + residual [7168], 1024 thr", () => k.RmsNorm.Launch(stream, rows, 1024, 0, hidden, residual, normW, normed, Hidden, 1e-6f), false),
                ("rmsnorm + residual [7168], 256 (loop)", () => k.RmsNorm.Launch(stream, rows, 256, 0, hidden, residual, normW, normed, Hidden, 1e-6f), false),
                ("dense_bf16 W_UV", () => dense.Launch(stream, wuv, x16.Pointer, rows, Heads * Latent, Latent, attn.Pointer, Heads * V, V), true),
            };
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
                Console.WriteLine($"{rows,4} {name,-36} {us,8:F2} {ratio,8}");
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
