using R1Orleans.Cuda;

namespace R1Orleans.GpuCheck;

/// <summary>
/// Random FP8 expert weights for a <see cref="MoeFp8Experts"/>: generated row-major on the GPU (every e4m3 code but NaN),
/// kept for the CPU reference, and packed into the layer; block scales random from the host.
/// </summary>
public sealed class MoeWeights : IDisposable
{
    /// <summary>Scales keep gate/up/down outputs near 1 for inputs in [-1, 1] (random e4m3 codes have an RMS near 110).</summary>
    public const float ScaleLo = 0.5e-4f;

    public const float ScaleHi = 1.5e-4f;

    private MoeWeights(DeviceBuffer w13, DeviceBuffer w2)
    {
        W13RowMajor = w13;
        W2RowMajor = w2;
    }

    /// <summary>[experts, 2I, H] bytes as a checkpoint stores gate_proj and up_proj.</summary>
    public DeviceBuffer W13RowMajor { get; }

    /// <summary>[experts, H, I] bytes as a checkpoint stores down_proj.</summary>
    public DeviceBuffer W2RowMajor { get; }

    public static MoeWeights Fill(CudaContext context, MoeFp8Experts moe, KernelLibrary kernels, CudaStream stream, Random rng)
    {
        var w = new MoeWeights(context.Allocate(moe.W13.Bytes), context.Allocate(moe.W2.Bytes));
        CudaKernel fill = kernels.Kernel("bench_util", "fill_fp8");
        fill.Launch(stream, 132 * 16, 256, 0, w.W13RowMajor, (ulong)(moe.W13.Bytes / 4), (uint)rng.Next());
        fill.Launch(stream, 132 * 16, 256, 0, w.W2RowMajor, (ulong)(moe.W2.Bytes / 4), (uint)rng.Next());
        moe.W13.Fill8(0x7F);
        moe.W2.Fill8(0x7F);
        moe.PackWeights(w.W13RowMajor, w.W2RowMajor, stream);
        moe.S13.Upload<float>(Rng.Uniform(rng, (int)(moe.S13.Bytes / 4), ScaleLo, ScaleHi));
        moe.S2.Upload<float>(Rng.Uniform(rng, (int)(moe.S2.Bytes / 4), ScaleLo, ScaleHi));
        stream.Synchronize();
        return w;
    }

    public void Dispose()
    {
        W13RowMajor.Dispose();
        W2RowMajor.Dispose();
    }
}
