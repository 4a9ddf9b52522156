namespace R1Orleans.Cuda;

/// <summary>The kernels that run <see cref="MlaDecode"/>'s decode.</summary>
public enum MlaDecodeKernel
{
    /// <summary>kernels/mla_decode.cu: mma.sync m16n8k16 through ldmatrix, any architecture from Ampere on.</summary>
    Mma,

    /// <summary>kernels/mla_decode_wgmma.cu: Hopper's warpgroup MMA reading both operands from shared memory; sm_90a only.</summary>
    Wgmma,
}

/// <summary>Which <see cref="MlaDecodeKernel"/> a device can run, and which it runs by default.</summary>
public static class MlaDecodeKernels
{
    /// <summary>
    /// The kernel a device runs unless told otherwise: mma.sync everywhere. The wgmma kernel passes the same checks on an
    /// H100 but is no faster (0.2992 vs 0.3027 ms at 64 x 4,096, docs/BENCHMARKS.md), so it is chosen only explicitly.
    /// </summary>
    public static MlaDecodeKernel DefaultFor(ComputeCapability capability) => MlaDecodeKernel.Mma;

    /// <summary>Whether <paramref name="capability"/> has the instructions <paramref name="kernel"/> is built from.</summary>
    public static bool Supports(MlaDecodeKernel kernel, ComputeCapability capability) => kernel switch
    {
        MlaDecodeKernel.Mma => capability.Major >= 8,
        MlaDecodeKernel.Wgmma => capability is { Major: 9, Minor: 0 },
        _ => false,
    };

    /// <summary>Throws an <see cref="ArgumentException"/> naming the device's capability when it cannot run <paramref name="kernel"/>.</summary>
    public static void Require(MlaDecodeKernel kernel, ComputeCapability capability)
    {
        if (!Supports(kernel, capability))
        {
            throw new ArgumentException($"MLA decode kernel {kernel} needs {(kernel == MlaDecodeKernel.Wgmma ? "compute capability 9.0 (sm_90a: H100, H200)" : "compute capability 8.0 or later")}; this device has {capability}");
        }
    }
}
