namespace R1Orleans.Cuda;

/// <summary>Where the MoE GEMM kernels hold the K chunks they have in flight (kernels/moe_fp8.cu).</summary>
public enum MoeRing
{
    /// <summary>A ring of registers per warp, filled by ordinary loads.</summary>
    Registers = 0,

    /// <summary>A shared-memory ring per warp (weights and tokens), filled by cp.async.</summary>
    WarpAsync = 1,

    /// <summary>A shared-memory ring per CTA filled by cp.async, the tokens' tile copied once for all warps.</summary>
    CtaAsync = 2,
}
