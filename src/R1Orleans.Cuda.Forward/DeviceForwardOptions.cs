namespace R1Orleans.Cuda.Forward;

/// <summary>How the device forward runs its ops.</summary>
public sealed record DeviceForwardOptions
{
    /// <summary>Linears of up to this many rows run as gemv launches over runs of 8 rows; more rows take 64x64 tiles.</summary>
    public int GemvMaxRows { get; init; } = LinearKernels.GemvMaxTokens;

    /// <summary>Routed experts through the reference kernels even where a layer has the fast FP8 ones.</summary>
    public bool ReferenceExperts { get; init; }
}
