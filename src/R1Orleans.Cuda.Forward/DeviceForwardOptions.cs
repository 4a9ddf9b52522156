namespace R1Orleans.Cuda.Forward;

/// <summary>How the device forward runs its ops.</summary>
public sealed record DeviceForwardOptions
{
    /// <summary>Linears of up to this many rows run as gemv launches over runs of 8 rows; more rows take 64x64 tiles.</summary>
    public int GemvMaxRows { get; init; } = LinearKernels.GemvMaxTokens;

    /// <summary>Routed experts through the reference kernels even where a layer has the fast FP8 ones.</summary>
    public bool ReferenceExperts { get; init; }

    /// <summary>
    /// FP8 linears with 128x128 blocks on tensor cores (<see cref="DenseFp8Mma"/>, f16 activations) from
    /// <see cref="FastLinearMinRows"/> rows; off, every linear is float32 on CUDA cores (the reference numerics).
    /// </summary>
    public bool FastLinears { get; init; }

    public int FastLinearMinRows { get; init; } = 1;
}
