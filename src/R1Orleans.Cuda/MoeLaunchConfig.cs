namespace R1Orleans.Cuda;

/// <summary>
/// How the FP8 MoE decode kernels split their work: <see cref="Splits"/> K-splits of gate/up (more CTAs when few
/// experts are active), <see cref="TokenTiles"/> tiles of 8 tokens that share one read of a weight tile (1, 2 or 4),
/// and <see cref="Warps"/> warps per CTA (4 or 8; each warp owns 16 gate/up rows or 32 down rows).
/// </summary>
public readonly record struct MoeLaunchConfig(int Splits, int TokenTiles, int Warps = 4)
{
    /// <summary>Defaults by token count: split K when few experts are active; wider token tiles when many tokens share an expert.</summary>
    public static MoeLaunchConfig ForTokens(int tokens) => tokens switch
    {
        <= 4 => new(4, 1),
        <= 32 => new(1, 1),
        <= 128 => new(1, 2),
        _ => new(1, 2),
    };
}
