namespace R1Orleans.Cuda;

/// <summary>
/// How the FP8 MoE decode kernels (kernels/moe_fp8.cu) split their work: <see cref="Splits"/> K-splits of gate/up and
/// <see cref="DownSplits"/> of down (more CTAs when few experts are active); <see cref="TokenTiles"/> tiles of 8 tokens
/// that share one read of a weight tile; <see cref="Warps"/> warps per CTA (each owns 16 gate/up rows or 32 down rows);
/// <see cref="Depth"/> K chunks held per warp, in the <see cref="Ring"/> that holds them.
/// </summary>
public readonly record struct MoeLaunchConfig(int Splits, int TokenTiles, int Warps, int Depth, MoeRing Ring, int DownSplits = 1)
{
    /// <summary>Largest dynamic shared memory per CTA on Hopper (227 KB).</summary>
    public const int MaxSharedBytes = 232448;

    /// <summary>The compiled (token tiles, depth, ring) variants.</summary>
    public static readonly (int TokenTiles, int Depth, MoeRing Ring)[] Variants =
    [
        (1, 2, MoeRing.Registers), (1, 3, MoeRing.Registers), (2, 2, MoeRing.Registers), (4, 1, MoeRing.Registers),
        (1, 4, MoeRing.WarpAsync), (1, 6, MoeRing.WarpAsync), (2, 4, MoeRing.WarpAsync), (4, 3, MoeRing.WarpAsync),
        (1, 4, MoeRing.CtaAsync), (1, 6, MoeRing.CtaAsync), (2, 4, MoeRing.CtaAsync), (4, 4, MoeRing.CtaAsync),
    ];

    /// <summary>
    /// Dynamic shared memory per CTA, 16-byte units x 16: per stage 256 units of weights per warp and 128 per token
    /// tile, the token units once per warp (<see cref="MoeRing.WarpAsync"/>) or once per CTA (<see cref="MoeRing.CtaAsync"/>).
    /// </summary>
    public int SharedBytes => Ring switch
    {
        MoeRing.WarpAsync => Warps * Depth * (256 + (128 * TokenTiles)) * 16,
        MoeRing.CtaAsync => Depth * ((128 * TokenTiles) + (256 * Warps)) * 16,
        _ => 0,
    };

    /// <summary>The kernel name suffix, e.g. "_async_nt1_d4".</summary>
    public string KernelSuffix => Ring switch
    {
        MoeRing.WarpAsync => "_async",
        MoeRing.CtaAsync => "_shared",
        _ => "",
    } + $"_nt{TokenTiles}_d{Depth}";

    /// <summary>True when the variant is compiled, the warps are 4 or 8 and the shared memory fits.</summary>
    public bool IsSupported =>
        Variants.Contains((TokenTiles, Depth, Ring)) && Warps is 4 or 8 && Splits >= 1 && DownSplits is >= 1 and <= 4 && SharedBytes <= MaxSharedBytes;

    /// <summary>Short form: K splits of gate_up / down, token tiles, warps, depth and ring (r, a or s).</summary>
    public string ShortName => $"s{Splits}/{DownSplits} t{TokenTiles} w{Warps} d{Depth}{Ring switch { MoeRing.WarpAsync => "a", MoeRing.CtaAsync => "s", _ => "r" }}";

    /// <summary>
    /// Defaults by token count, the fastest of the sweep on an H200 (tools/gpu/results/2026-12-04-v5): the CTA-shared
    /// cp.async ring, 4 stages; 16-token tiles once experts see several tokens each (64 tokens and up).
    /// </summary>
    public static MoeLaunchConfig ForTokens(int tokens) => tokens switch
    {
        <= 4 => new(1, 1, 8, 4, MoeRing.CtaAsync),
        <= 32 => new(1, 1, 4, 4, MoeRing.CtaAsync),
        <= 128 => new(1, 2, 4, 4, MoeRing.CtaAsync),
        _ => new(1, 2, 8, 4, MoeRing.CtaAsync),
    };
}
