namespace R1Orleans.Cuda;

/// <summary>
/// How the FP8 MoE decode kernels (kernels/moe_fp8.cu) split their work: <see cref="Splits"/> K-splits of gate/up and
/// <see cref="DownSplits"/> of down (more CTAs when few experts are active); <see cref="TokenTiles"/> tiles of 8 tokens
/// that share one read of a weight tile; <see cref="Warps"/> warps per CTA (each owns 16 gate/up rows or 32 down rows);
/// <see cref="Depth"/> K chunks held per warp, in registers or, with <see cref="Async"/>, in shared memory filled by cp.async.
/// </summary>
public readonly record struct MoeLaunchConfig(int Splits, int TokenTiles, int Warps, int Depth, bool Async, int DownSplits = 1)
{
    /// <summary>Largest dynamic shared memory per CTA on Hopper (227 KB).</summary>
    public const int MaxSharedBytes = 232448;

    /// <summary>The compiled (token tiles, depth, async) variants.</summary>
    public static readonly (int TokenTiles, int Depth, bool Async)[] Variants =
        [(1, 2, false), (1, 3, false), (2, 2, false), (4, 1, false), (1, 4, true), (1, 6, true), (2, 4, true), (4, 3, true)];

    /// <summary>Dynamic shared memory per CTA: the cp.async ring of every warp (4 KB of weights + 2 KB per token tile per stage).</summary>
    public int SharedBytes => Async ? Warps * Depth * (256 + (128 * TokenTiles)) * 16 : 0;

    /// <summary>The kernel name suffix, e.g. "_async_nt1_d4".</summary>
    public string KernelSuffix => $"{(Async ? "_async" : "")}_nt{TokenTiles}_d{Depth}";

    /// <summary>True when the variant is compiled, the warps are 4 or 8 and the shared memory fits.</summary>
    public bool IsSupported =>
        Variants.Contains((TokenTiles, Depth, Async)) && Warps is 4 or 8 && Splits >= 1 && DownSplits is >= 1 and <= 4 && SharedBytes <= MaxSharedBytes;

    /// <summary>Defaults by token count: split K when few experts are active; wider token tiles when many tokens share an expert.</summary>
    public static MoeLaunchConfig ForTokens(int tokens) => tokens switch
    {
        <= 4 => new(4, 1, 4, 4, true, 2),
        <= 32 => new(1, 1, 4, 4, true),
        <= 128 => new(1, 1, 4, 4, true),
        _ => new(1, 2, 4, 4, true),
    };
}
