namespace R1Orleans.Cuda;

/// <summary>
/// How the FP8 MoE prefill GEMMs (kernels/moe_prefill.cu) tile their work: a CTA covers 128 weight rows (one 128-row scale
/// block; for gate/up 64 gate and the 64 up rows of the same features) by <see cref="TokensPerCta"/> of one expert's tokens,
/// with <see cref="WarpsM"/> x <see cref="WarpsN"/> warps each holding <see cref="RowTiles"/> 16-row tiles by
/// <see cref="TokenTiles"/> 8-token tiles, and <see cref="Stages"/> K chunks of 128 in flight through cp.async.
/// </summary>
public readonly record struct MoePrefillConfig(int RowTiles, int TokenTiles, int WarpsM, int WarpsN, int Stages)
{
    /// <summary>Weight rows per CTA (one 128-row block scale).</summary>
    public const int RowsPerCta = 128;

    /// <summary>Gate (and as many up) features per gate/up CTA.</summary>
    public const int FeaturesPerCta = 64;

    /// <summary>The compiled variants (kernels/moe_prefill.cu's MOE_PREFILL_KERNELS lines).</summary>
    public static readonly MoePrefillConfig[] Variants =
    [
        new(4, 4, 2, 4, 4), new(2, 8, 4, 2, 4), new(4, 4, 2, 2, 3), new(4, 4, 2, 2, 4), new(2, 8, 4, 1, 3),
    ];

    /// <summary>
    /// The fastest of the H200 sweep (docs/results/2026-12-05-gpu-c, 4,096 tokens: 14.0 ms, 206 TFLOP/s; the 64 x 32 warp
    /// tiles 14.9-18.5 ms and, under NVRTC 13 for sm_90a, 40-56 bytes of spills): 128 rows x 64 tokens, 4 warps of
    /// 32 rows x 64 tokens (each converted weight fragment serves 8 token tiles), 3 stages (96 KB: two CTAs per SM).
    /// </summary>
    public static readonly MoePrefillConfig Default = new(2, 8, 4, 1, 3);

    public int Warps => WarpsM * WarpsN;

    public int Threads => 32 * Warps;

    /// <summary>Tokens of one expert per CTA (8 per token tile).</summary>
    public int TokensPerCta => 8 * TokenTiles * WarpsN;

    /// <summary>Dynamic shared memory: per stage the FP8 weight chunk (128 rows x 128 bytes) and the tokens' f16 chunk (128 x 2 bytes each).</summary>
    public int SharedBytes => Stages * ((RowsPerCta * 128) + (TokensPerCta * 256));

    /// <summary>The kernel name suffix, e.g. "_m4n4_w2x2_s3".</summary>
    public string KernelSuffix => $"_m{RowTiles}n{TokenTiles}_w{WarpsM}x{WarpsN}_s{Stages}";

    /// <summary>Short form for tables: CTA tile, warps, stages.</summary>
    public string ShortName => $"prefill {RowsPerCta}x{TokensPerCta} w{WarpsM}x{WarpsN} s{Stages}";

    /// <summary>True when the variant is compiled and its shared memory fits a CTA.</summary>
    public bool IsSupported => Variants.Contains(this) && SharedBytes <= MoeLaunchConfig.MaxSharedBytes;

    /// <summary>
    /// The most token tiles a step of <paramref name="slots"/> (token, expert) pairs over <paramref name="experts"/> experts
    /// can need: every active expert rounds its tokens up to a whole tile at most once, so ceil(slots / tile) + active
    /// experts, and at most min(experts, slots) experts are active. The grid's y extent (tiles past the real count exit).
    /// </summary>
    public int MaxTiles(int slots, int experts) => ((slots + TokensPerCta - 1) / TokensPerCta) + Math.Min(experts, slots);

    /// <summary>gate/up grid: (intermediate / 64 feature blocks, token tiles).</summary>
    public Dim3 GateUpGrid(int intermediate, int slots, int experts)
    {
        if (intermediate % FeaturesPerCta != 0)
        {
            throw new ArgumentException($"moe_intermediate {intermediate} is not a multiple of {FeaturesPerCta}");
        }

        return new Dim3((uint)(intermediate / FeaturesPerCta), (uint)MaxTiles(slots, experts));
    }

    /// <summary>down grid: (hidden / 128 row blocks, token tiles).</summary>
    public Dim3 DownGrid(int hidden, int slots, int experts)
    {
        if (hidden % RowsPerCta != 0)
        {
            throw new ArgumentException($"hidden {hidden} is not a multiple of {RowsPerCta}");
        }

        return new Dim3((uint)(hidden / RowsPerCta), (uint)MaxTiles(slots, experts));
    }
}
