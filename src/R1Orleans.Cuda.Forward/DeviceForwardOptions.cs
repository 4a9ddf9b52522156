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

    /// <summary>
    /// lm_head and the absorbed per-head projections (W_UK, W_UV) as BF16 on tensor cores (<see cref="Bf16Linears"/>,
    /// activations rounded to BF16, float32 sums): V3 ships lm_head in BF16, and in float32 on CUDA cores these are
    /// compute-bound from a few dozen rows. Matrices linear_bf16 cannot take stay float32. Needs the linear_bf16 and
    /// moe_fp8 kernel modules (<see cref="ForwardKernels.Modules"/>).
    /// </summary>
    public bool Bf16TensorCores { get; init; }

    /// <summary>The fast mode: FP8 linears and BF16 matrices on tensor cores.</summary>
    public static DeviceForwardOptions Fast { get; } = new() { FastLinears = true, Bf16TensorCores = true };
}
