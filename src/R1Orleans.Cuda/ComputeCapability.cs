namespace R1Orleans.Cuda;

/// <summary>A device's compute capability (major.minor), and the NVRTC architecture to compile kernels for.</summary>
public readonly record struct ComputeCapability(int Major, int Minor)
{
    /// <summary>
    /// The real architecture for NVRTC's --gpu-architecture: sm_XY, with the arch-specific 'a' suffix from Hopper (9.0)
    /// on, so that wgmma, setmaxnreg and the other sm_90a instructions are available (sm_90a on an H100/H200).
    /// </summary>
    public string NvrtcArchitecture => Major >= 9 ? $"sm_{Major}{Minor}a" : $"sm_{Major}{Minor}";

    public override string ToString() => $"{Major}.{Minor}";
}
