namespace R1Orleans.Cuda;

/// <summary>
/// The routed experts of one MoE layer on the GPU, FP8 e4m3 with 128x128 block scales (DeepSeek-V3's checkpoint
/// format, vLLM's w13/w2 layout), and the decode step over them: permute (tokens grouped by expert), gate/up grouped
/// GEMM, SiLU x up, down grouped GEMM, combine with the routing weights. Kernels: kernels/moe_fp8.cu.
/// Buffers: <see cref="X"/> [tokens, hidden] float32 in, <see cref="TopkIds"/>/<see cref="TopkWeights"/> [tokens, topK] in,
/// <see cref="Output"/> [tokens, hidden] float32 out.
/// </summary>
public sealed class MoeFp8Experts : IDisposable
{
    private const int Block = 256;
    private readonly CudaKernel _prepare;
    private readonly CudaKernel _silu;
    private readonly CudaKernel _combine;
    private readonly CudaKernel _pack;
    private readonly CudaKernel[] _gateUp;
    private readonly CudaKernel[] _down;
    private readonly List<DeviceBuffer> _owned = [];

    public MoeFp8Experts(CudaContext context, KernelLibrary kernels, int experts, int hidden, int intermediate, int topK, int maxTokens, int maxSplits = 14)
    {
        if (hidden % 256 != 0 || intermediate % 128 != 0 || experts > 1024 || topK > experts || maxTokens < 1)
        {
            throw new ArgumentException($"MoE shape not supported: experts {experts} (at most 1024), hidden {hidden} (multiple of 256), intermediate {intermediate} (multiple of 128), top-{topK}, {maxTokens} tokens");
        }

        Experts = experts;
        Hidden = hidden;
        Intermediate = intermediate;
        TopK = topK;
        MaxTokens = maxTokens;
        MaxSplits = maxSplits;
        _prepare = kernels.Kernel("moe_fp8", "moe_prepare");
        _silu = kernels.Kernel("moe_fp8", "moe_silu");
        _combine = kernels.Kernel("moe_fp8", "moe_combine");
        _pack = kernels.Kernel("moe_fp8", "moe_pack_tiles");
        _gateUp = [kernels.Kernel("moe_fp8", "moe_gate_up_nt1"), kernels.Kernel("moe_fp8", "moe_gate_up_nt2"), kernels.Kernel("moe_fp8", "moe_gate_up_nt4")];
        _down = [kernels.Kernel("moe_fp8", "moe_down_nt1"), kernels.Kernel("moe_fp8", "moe_down_nt2"), kernels.Kernel("moe_fp8", "moe_down_nt4")];

        long e = experts, h = hidden, i = intermediate, s = (long)maxTokens * topK;
        W13 = Own(context.Allocate(e * 2 * i * h));
        S13 = Own(context.Allocate(e * (2 * i / 128) * (h / 128) * 4));
        W2 = Own(context.Allocate(e * h * i));
        S2 = Own(context.Allocate(e * (h / 128) * (i / 128) * 4));
        X = Own(context.Allocate(maxTokens * h * 4));
        TopkIds = Own(context.Allocate(s * 4));
        TopkWeights = Own(context.Allocate(s * 4));
        Output = Own(context.Allocate(maxTokens * h * 4));
        _x16 = Own(context.Allocate(maxTokens * h * 2));
        _meta = Own(context.Allocate(((2 * e) + 2) * 4));
        _slotToken = Own(context.Allocate(s * 4));
        _slotOf = Own(context.Allocate(s * 4));
        _partial = Own(context.Allocate(maxSplits * s * 2 * i * 4));
        _h16 = Own(context.Allocate(s * i * 2));
        _y = Own(context.Allocate(s * h * 4));
    }

    public int Experts { get; }

    public int Hidden { get; }

    public int Intermediate { get; }

    public int TopK { get; }

    public int MaxTokens { get; }

    public int MaxSplits { get; }

    /// <summary>[experts, 2 * intermediate, hidden] e4m3 bytes (gate_proj rows, then up_proj rows) in the packed tile order of <see cref="PackWeights"/>.</summary>
    public DeviceBuffer W13 { get; }

    /// <summary>[experts, 2 * intermediate / 128, hidden / 128] float32 weight_scale_inv.</summary>
    public DeviceBuffer S13 { get; }

    /// <summary>[experts, hidden, intermediate] e4m3 bytes of down_proj, in the packed tile order of <see cref="PackWeights"/>.</summary>
    public DeviceBuffer W2 { get; }

    /// <summary>[experts, hidden / 128, intermediate / 128] float32 weight_scale_inv.</summary>
    public DeviceBuffer S2 { get; }

    public DeviceBuffer X { get; }

    public DeviceBuffer TopkIds { get; }

    public DeviceBuffer TopkWeights { get; }

    public DeviceBuffer Output { get; }

    private readonly DeviceBuffer _x16;
    private readonly DeviceBuffer _meta;
    private readonly DeviceBuffer _slotToken;
    private readonly DeviceBuffer _slotOf;
    private readonly DeviceBuffer _partial;
    private readonly DeviceBuffer _h16;
    private readonly DeviceBuffer _y;

    /// <summary>Bytes of FP8 weights one active expert streams per step (gate, up, down).</summary>
    public long ExpertWeightBytes => 3L * Hidden * Intermediate;

    /// <summary>
    /// Fills <see cref="W13"/> and <see cref="W2"/> from row-major checkpoint-layout weights already on the device
    /// ([experts, 2I, H] and [experts, H, I] bytes), reordered into 16-row x 128-column tiles (kernels/moe_fp8.cu,
    /// moe_pack_tiles) so the GEMMs stream each tile contiguously.
    /// </summary>
    public void PackWeights(DeviceBuffer w13RowMajor, DeviceBuffer w2RowMajor, CudaStream stream)
    {
        if (w13RowMajor.Bytes != W13.Bytes || w2RowMajor.Bytes != W2.Bytes)
        {
            throw new ArgumentException($"row-major weights hold {w13RowMajor.Bytes} and {w2RowMajor.Bytes} bytes; this layer needs {W13.Bytes} and {W2.Bytes}");
        }

        _pack.Launch(stream, 132 * 16, Block, 0, w13RowMajor, W13, Experts, 2 * Intermediate, Hidden);
        _pack.Launch(stream, 132 * 16, Block, 0, w2RowMajor, W2, Experts, Hidden, Intermediate);
    }

    /// <summary>Checks a routing before upload: every id in [0, experts), no expert twice for one token.</summary>
    public static void ValidateRouting(ReadOnlySpan<int> ids, int tokens, int topK, int experts)
    {
        if (ids.Length != tokens * topK)
        {
            throw new ArgumentException($"routing holds {ids.Length} ids, expected {tokens} x {topK}");
        }

        for (int t = 0; t < tokens; t++)
        {
            ReadOnlySpan<int> row = ids.Slice(t * topK, topK);
            for (int k = 0; k < topK; k++)
            {
                if ((uint)row[k] >= (uint)experts)
                {
                    throw new ArgumentOutOfRangeException(nameof(ids), $"token {t} slot {k}: expert {row[k]} is outside [0, {experts})");
                }

                if (row[..k].Contains(row[k]))
                {
                    throw new ArgumentException($"token {t} routes to expert {row[k]} twice");
                }
            }
        }
    }

    /// <summary>
    /// Queues one decode step over the first <paramref name="tokens"/> rows of <see cref="X"/> and the routing in
    /// <see cref="TopkIds"/>/<see cref="TopkWeights"/>; the result lands in <see cref="Output"/>. When
    /// <paramref name="marks"/> holds 6 events, they are recorded before and after each of the five launches.
    /// </summary>
    public void Forward(CudaStream stream, int tokens, MoeLaunchConfig config, CudaEvent[]? marks = null)
    {
        if (tokens < 1 || tokens > MaxTokens)
        {
            throw new ArgumentOutOfRangeException(nameof(tokens), $"{tokens} tokens; this layer was sized for 1..{MaxTokens}");
        }

        int kb = Hidden / 128;
        int perSplit = (kb + Math.Clamp(config.Splits, 1, MaxSplits) - 1) / Math.Clamp(config.Splits, 1, MaxSplits);
        int splits = (kb + perSplit - 1) / perSplit;
        int nt = config.TokenTiles switch { 1 => 0, 2 => 1, 4 => 2, _ => throw new ArgumentException($"token tiles must be 1, 2 or 4, not {config.TokenTiles}") };
        if (config.Warps is not (4 or 8))
        {
            throw new ArgumentException($"warps per CTA must be 4 or 8, not {config.Warps}");
        }

        int s = tokens * TopK;
        int maxActive = Math.Min(Experts, s);
        int threads = 32 * config.Warps;

        marks?[0].Record(stream);
        int convertBlocks = (int)Math.Min(((long)tokens * Hidden / 2 + Block - 1) / Block, 528);
        _prepare.Launch(stream, 1 + convertBlocks, Block, 0, TopkIds, tokens, TopK, Experts, _meta, _slotToken, _slotOf, X, _x16, Hidden);
        marks?[1].Record(stream);
        _gateUp[nt].Launch(stream, new Dim3((uint)(maxActive * (Intermediate / (16 * config.Warps))), (uint)splits), threads, 0,
            W13, S13, _x16, _meta, _slotToken, _partial, Experts, Hidden, Intermediate, s, perSplit);
        marks?[2].Record(stream);
        int siluBlocks = (int)Math.Min(((long)s * Intermediate / 2 + Block - 1) / Block, 2048);
        _silu.Launch(stream, siluBlocks, Block, 0, _partial, splits, s, Intermediate, _h16);
        marks?[3].Record(stream);
        _down[nt].Launch(stream, maxActive * (Hidden / (32 * config.Warps)), threads, 0, W2, S2, _h16, _meta, _y, Experts, Hidden, Intermediate);
        marks?[4].Record(stream);
        _combine.Launch(stream, new Dim3((uint)((Hidden / 4 + Block - 1) / Block), (uint)tokens), Block, 0, _y, _slotOf, TopkWeights, TopK, Hidden, Output);
        marks?[5].Record(stream);
    }

    public void Dispose()
    {
        foreach (DeviceBuffer b in _owned)
        {
            b.Dispose();
        }
    }

    private DeviceBuffer Own(DeviceBuffer b)
    {
        _owned.Add(b);
        return b;
    }
}
