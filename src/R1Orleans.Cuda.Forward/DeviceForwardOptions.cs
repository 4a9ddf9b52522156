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
    /// Every dense matrix on tensor cores through <see cref="DenseMma"/> (kernels/dense_mma.cu): the FP8 linears (f16
    /// activations; before <see cref="FastLinears"/>' kernel), and lm_head and the absorbed per-head projections W_UK,
    /// W_UV as BF16 (activations rounded to BF16; V3 ships lm_head in BF16), float32 sums. In float32 on CUDA cores these
    /// are compute-bound from a few dozen rows. Matrices dense_mma cannot take keep their other path. Needs the
    /// dense_mma and moe_fp8 kernel modules (<see cref="ForwardKernels.Modules"/>).
    /// </summary>
    public bool DenseTensorCores { get; init; }

    /// <summary>
    /// Kernels launched with programmatic dependent launch (<see cref="CudaStream.ProgrammaticSerialization"/>) where the
    /// device has it (compute capability 9.0 on): each kernel's launch overlaps the tail of the one before, which it
    /// waits for in its first instruction; the outputs are the same bit for bit (r1-gpucheck --forward checks it).
    /// Off: ordinary launches. On by default (H100, reduced model: the batch-1 decode step 1.980 → 1.910 ms).
    /// </summary>
    public bool ProgrammaticLaunch { get; init; } = true;

    /// <summary>
    /// In the fast mode, a layer's shared expert runs inside the routed FP8 decode step (steps of fewer than
    /// <see cref="MoeFp8Experts.PrefillMinTokens"/> rows) as an always-on ninth expert of every token (weight 1; <see cref="MoeFp8Experts.PackSharedExpert"/>) instead of as a dense feed-forward of its own
    /// (about seven launches) and an add. Only where the layer's fast experts hold a shared slot (the weights decide at
    /// upload: <see cref="DeviceWeightUpload.SharedSlots"/>; <see cref="DeviceForward.FoldsSharedExperts"/> says whether
    /// it happens). Checked against the reference on a GPU; off by default because it does not pay: on an H200 the
    /// reduced model's batch-1 step went 1.511 → 1.564 ms (the shared experts' 0.086 ms saved, the routed step 0.119 ms
    /// slower with a ninth expert a token).
    /// </summary>
    public bool SharedExpertInRoutedStep { get; init; }

    /// <summary>The fast mode: the routed experts (when the layer has them) and every dense matrix on tensor cores.</summary>
    public static DeviceForwardOptions Fast { get; } = new() { DenseTensorCores = true };
}
