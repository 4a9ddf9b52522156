namespace R1Orleans.Cuda;

/// <summary>
/// The routed experts of one MoE layer on the GPU, FP8 e4m3 with 128x128 block scales (DeepSeek-V3's checkpoint
/// format, vLLM's w13/w2 layout), and the step over them: permute (tokens grouped by expert), gate/up grouped
/// GEMM, SiLU x up, down grouped GEMM, combine with the routing weights. Two sets of GEMMs over the same weights:
/// decode (<see cref="Forward(CudaStream, int, MoeLaunchConfig, CudaEvent[])"/>, kernels/moe_fp8.cu: each weight byte
/// streamed once for few tokens) and prefill (<see cref="ForwardPrefill"/>, kernels/moe_prefill.cu: tiled, compute-bound,
/// SiLU x up fused); <see cref="Forward(CudaStream, int)"/> picks one by <see cref="PrefillMinTokens"/>.
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
    private readonly Dictionary<string, CudaKernel> _gemms = [];
    private readonly CudaKernel _schedule;
    private readonly Dictionary<string, CudaKernel> _prefillGemms = [];
    private readonly List<DeviceBuffer> _owned = [];

    /// <param name="scratch">Per-step buffers shared with other layers of the same shape that run on the same stream
    /// (one after another); null allocates this layer's own (see <see cref="NewScratch"/>).</param>
    /// <param name="sharedExperts">Slots for the layer's shared experts after the routed ones (<see cref="PackSharedExpert"/>),
    /// which a step then runs as always-on experts of every token (<c>shared: true</c>); 0: none.</param>
    public MoeFp8Experts(CudaContext context, KernelLibrary kernels, int experts, int hidden, int intermediate, int topK, int maxTokens, int maxSplits = DefaultMaxSplits, MoeScratch? scratch = null, int sharedExperts = 0)
    {
        if (hidden % 256 != 0 || intermediate % 128 != 0 || hidden > 8192 || intermediate > 8192 || experts + sharedExperts > 1024 || topK > experts || maxTokens < 1 || sharedExperts < 0)
        {
            throw new ArgumentException($"MoE shape not supported: experts {experts} + {sharedExperts} shared (at most 1024), hidden {hidden} (multiple of 256, at most 8192), intermediate {intermediate} (multiple of 128, at most 8192), top-{topK}, {maxTokens} tokens");
        }

        SharedExperts = sharedExperts;
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
        foreach ((int tiles, int depth, MoeRing ring) in MoeLaunchConfig.Variants)
        {
            string suffix = new MoeLaunchConfig(1, tiles, 4, depth, ring).KernelSuffix;
            foreach (string part in new[] { "moe_gate_up", "moe_down" })
            {
                _gemms[part + suffix] = kernels.Kernel("moe_fp8", part + suffix);
            }
        }

        _schedule = kernels.Kernel("moe_prefill", "moe_prefill_schedule");
        foreach (MoePrefillConfig c in MoePrefillConfig.Variants)
        {
            foreach (string part in new[] { "moe_prefill_gate_up", "moe_prefill_down" })
            {
                _prefillGemms[part + c.KernelSuffix] = kernels.Kernel("moe_prefill", part + c.KernelSuffix);
            }
        }

        long e = experts + sharedExperts, h = hidden, i = intermediate;
        W13 = Own(context.Allocate(e * 2 * i * h));
        S13 = Own(context.Allocate(e * (2 * i / 128) * (h / 128) * 4));
        W2 = Own(context.Allocate(e * h * i));
        S2 = Own(context.Allocate(e * (h / 128) * (i / 128) * 4));
        if (scratch is null)
        {
            _scratch = NewScratch(context, experts, hidden, intermediate, topK, maxTokens, maxSplits, sharedExperts);
            _ownsScratch = true;
        }
        else
        {
            _scratch = scratch.Fits(experts + sharedExperts, hidden, intermediate, topK + sharedExperts, maxTokens, maxSplits)
                ? scratch
                : throw new ArgumentException($"the shared MoE scratch was sized for {scratch.Experts} experts, {scratch.Hidden}/{scratch.Intermediate}, top-{scratch.TopK}, {scratch.MaxTokens} tokens and {scratch.MaxSplits} splits; this layer needs {experts + sharedExperts}, {hidden}/{intermediate}, top-{topK + sharedExperts}, {maxTokens} and {maxSplits}");
        }

        _x16 = _scratch.X16;
        _meta = _scratch.Meta;
        _slotToken = _scratch.SlotToken;
        _slotOf = _scratch.SlotOf;
        _partial = _scratch.Partial;
        _h16 = _scratch.H16;
        _y = _scratch.Y;
        _maxPrefillTiles = _scratch.MaxPrefillTiles;
        _schedTiles = _scratch.ScheduleTiles;
        _schedCount = _scratch.ScheduleCount;
    }

    /// <summary>Routed experts (the ids a routing may name).</summary>
    public int Experts { get; }

    /// <summary>Shared-expert slots after the routed ones (0: none).</summary>
    public int SharedExperts { get; }

    /// <summary>
    /// Per-step buffers for layers of this shape: the slots of a step count the shared experts as extra choices of
    /// every token (top-K + shared), and the grouping metadata counts them as experts.
    /// </summary>
    public static MoeScratch NewScratch(CudaContext context, int experts, int hidden, int intermediate, int topK, int maxTokens, int maxSplits = DefaultMaxSplits, int sharedExperts = 0) =>
        new(context, experts + sharedExperts, hidden, intermediate, topK + sharedExperts, maxTokens, maxSplits);

    public int Hidden { get; }

    public int Intermediate { get; }

    public int TopK { get; }

    public int MaxTokens { get; }

    public int MaxSplits { get; }

    /// <summary>K splits of gate/up a layer is sized for unless told otherwise.</summary>
    public const int DefaultMaxSplits = 14;

    /// <summary>The most K splits of the down projection (its float32 outputs are summed in the combine).</summary>
    public const int MaxDownSplits = 4;

    /// <summary>[experts, 2 * intermediate, hidden] e4m3 bytes (gate_proj rows, then up_proj rows) in the packed tile order of <see cref="PackWeights"/>.</summary>
    public DeviceBuffer W13 { get; }

    /// <summary>[experts, 2 * intermediate / 128, hidden / 128] float32 weight_scale_inv.</summary>
    public DeviceBuffer S13 { get; }

    /// <summary>[experts, hidden, intermediate] e4m3 bytes of down_proj, in the packed tile order of <see cref="PackWeights"/>.</summary>
    public DeviceBuffer W2 { get; }

    /// <summary>[experts, hidden / 128, intermediate / 128] float32 weight_scale_inv.</summary>
    public DeviceBuffer S2 { get; }

    public DeviceBuffer X => _scratch.X;

    public DeviceBuffer TopkIds => _scratch.TopkIds;

    public DeviceBuffer TopkWeights => _scratch.TopkWeights;

    public DeviceBuffer Output => _scratch.Output;

    /// <summary>The per-step buffers this layer uses (its own, or shared).</summary>
    public MoeScratch Scratch => _scratch;

    private readonly MoeScratch _scratch;
    private readonly bool _ownsScratch;

    private readonly DeviceBuffer _x16;
    private readonly DeviceBuffer _meta;
    private readonly DeviceBuffer _slotToken;
    private readonly DeviceBuffer _slotOf;
    private readonly DeviceBuffer _partial;
    private readonly DeviceBuffer _h16;
    private readonly DeviceBuffer _y;
    private readonly DeviceBuffer _schedTiles;
    private readonly DeviceBuffer _schedCount;
    private readonly int _maxPrefillTiles;

    /// <summary>
    /// From this many tokens <see cref="Forward(CudaStream, int)"/> takes the prefill GEMMs. Measured on the H200 at V3's
    /// sizes with the default tilings (docs/results/2026-12-05-gpu-d, decode / prefill ms): 256 tokens 2.73 / 3.27,
    /// 512 3.92 / 3.60, 1,024 6.78 / 4.85, 2,048 12.76 / 7.83; the decode GEMMs stream each weight byte once and win
    /// while experts see few tokens.
    /// </summary>
    public const int PrefillMinTokens = 512;

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

        _pack.Launch(stream, 132 * 16, Block, 0, w13RowMajor, W13, Experts + SharedExperts, 2 * Intermediate, Hidden);
        _pack.Launch(stream, 132 * 16, Block, 0, w2RowMajor, W2, Experts + SharedExperts, Hidden, Intermediate);
    }

    /// <summary>
    /// Packs shared expert <paramref name="index"/> (gate and up [I, H], down [H, I], FP8 e4m3 with 128x128 blocks, on the
    /// device) into slot <see cref="Experts"/> + index of the weights, for steps that run it with the routed experts.
    /// The packing is per expert and gate's rows end on a tile boundary, so gate, up and down are packed in place.
    /// </summary>
    public void PackSharedExpert(int index, DeviceWeight gate, DeviceWeight up, DeviceWeight down, CudaStream stream)
    {
        ArgumentNullException.ThrowIfNull(gate);
        ArgumentNullException.ThrowIfNull(up);
        ArgumentNullException.ThrowIfNull(down);
        if ((uint)index >= (uint)SharedExperts)
        {
            throw new ArgumentOutOfRangeException(nameof(index), $"shared expert {index}; this layer has {SharedExperts} slots");
        }

        foreach ((DeviceWeight w, int rows, int cols, string name) in new[] { (gate, Intermediate, Hidden, "gate"), (up, Intermediate, Hidden, "up"), (down, Hidden, Intermediate, "down") })
        {
            if (!w.IsFp8 || w.BlockRows != 128 || w.BlockCols != 128 || w.Rows != rows || w.Cols != cols)
            {
                throw new ArgumentException($"shared expert {name}: [{w.Rows}, {w.Cols}]{(w.IsFp8 ? $" FP8 {w.BlockRows}x{w.BlockCols}" : " float32")}; the slot takes [{rows}, {cols}] FP8 with 128x128 blocks");
            }
        }

        long slot = Experts + index, ih = (long)Intermediate * Hidden;
        long gateScales = (long)(Intermediate / 128) * (Hidden / 128), downScales = (long)(Hidden / 128) * (Intermediate / 128);
        _pack.Launch(stream, 132 * 4, Block, 0, gate.Pointer, W13.Pointer + (ulong)(slot * 2 * ih), 1, Intermediate, Hidden);
        _pack.Launch(stream, 132 * 4, Block, 0, up.Pointer, W13.Pointer + (ulong)((slot * 2 * ih) + ih), 1, Intermediate, Hidden);
        _pack.Launch(stream, 132 * 4, Block, 0, down.Pointer, W2.Pointer + (ulong)(slot * ih), 1, Hidden, Intermediate);
        S13.CopyFromAsync(gate.ScalesPointer, gateScales * 4, stream, slot * 2 * gateScales * 4);
        S13.CopyFromAsync(up.ScalesPointer, gateScales * 4, stream, ((slot * 2) + 1) * gateScales * 4);
        S2.CopyFromAsync(down.ScalesPointer, downScales * 4, stream, slot * downScales * 4);
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
    /// <see cref="TopkIds"/>/<see cref="TopkWeights"/>; the result lands in <see cref="Output"/> (or in and out of
    /// <paramref name="io"/>). When <paramref name="marks"/> holds 6 events, they are recorded before and after each of
    /// the five launches.
    /// </summary>
    /// <param name="shared">Run the shared experts (<see cref="SharedExperts"/>, packed) as always-on experts of every
    /// token with weight 1, after its routed ones: <see cref="Output"/> is then the whole MoE's output.</param>
    public void Forward(CudaStream stream, int tokens, MoeLaunchConfig config, CudaEvent[]? marks = null, MoeStepBuffers? io = null, bool shared = false)
    {
        MoeStepBuffers b = io ?? DefaultBuffers;
        int sh = SharedSlots(shared);
        if (tokens < 1 || tokens > MaxTokens)
        {
            throw new ArgumentOutOfRangeException(nameof(tokens), $"{tokens} tokens; this layer was sized for 1..{MaxTokens}");
        }

        if (!config.IsSupported)
        {
            throw new ArgumentException($"unsupported MoE launch config {config} (shared memory {config.SharedBytes} bytes)");
        }

        (int splits, int perSplit) = SplitK(Hidden / 128, Math.Min(config.Splits, MaxSplits));
        (int downSplits, int downPerSplit) = SplitK(Intermediate / 128, config.DownSplits);
        CudaKernel gateUp = _gemms["moe_gate_up" + config.KernelSuffix];
        CudaKernel down = _gemms["moe_down" + config.KernelSuffix];
        uint sharedBytes = (uint)config.SharedBytes;
        if (sharedBytes > 48 * 1024)
        {
            gateUp.SetMaxDynamicSharedMemory(config.SharedBytes);
            down.SetMaxDynamicSharedMemory(config.SharedBytes);
        }

        int s = tokens * (TopK + sh), all = Experts + sh;
        int maxActive = Math.Min(all, s);
        int threads = 32 * config.Warps;

        marks?[0].Record(stream);
        int convertBlocks = (int)Math.Min(((long)tokens * Hidden / 2 + Block - 1) / Block, 528);
        _prepare.Launch(stream, 1 + convertBlocks, Block, 0, b.TopkIds, tokens, TopK, all, _meta, _slotToken, _slotOf, b.X, _x16, Hidden, sh);
        marks?[1].Record(stream);
        gateUp.Launch(stream, new Dim3((uint)(maxActive * (Intermediate / (16 * config.Warps))), (uint)splits), threads, sharedBytes,
            W13, S13, _x16, _meta, _slotToken, _partial, all, Hidden, Intermediate, s, perSplit);
        marks?[2].Record(stream);
        int siluBlocks = (int)Math.Min(((long)s * Intermediate / 2 + Block - 1) / Block, 2048);
        _silu.Launch(stream, siluBlocks, Block, 0, _partial, splits, s, Intermediate, _h16);
        marks?[3].Record(stream);
        down.Launch(stream, new Dim3((uint)(maxActive * (Hidden / (32 * config.Warps))), (uint)downSplits), threads, sharedBytes, W2, S2, _h16, _meta, _y, all, Hidden, Intermediate, s, downPerSplit);
        marks?[4].Record(stream);
        _combine.Launch(stream, new Dim3((uint)((Hidden / 4 + Block - 1) / Block), (uint)tokens), Block, 0, _y, _slotOf, b.TopkWeights, TopK, Hidden, downSplits, s, b.Output, sh);
        marks?[5].Record(stream);
    }

    /// <summary>One step with the default GEMMs for the token count: prefill from <see cref="PrefillMinTokens"/>, decode below.</summary>
    public void Forward(CudaStream stream, int tokens, MoeStepBuffers? io = null, bool shared = false)
    {
        if (tokens >= PrefillMinTokens)
        {
            ForwardPrefill(stream, tokens, MoePrefillConfig.Default, io: io, shared: shared);
        }
        else
        {
            Forward(stream, tokens, MoeLaunchConfig.ForTokens(tokens), io: io, shared: shared);
        }
    }

    /// <summary>The scratch's <see cref="X"/>, <see cref="TopkIds"/>, <see cref="TopkWeights"/> and <see cref="Output"/>.</summary>
    public MoeStepBuffers DefaultBuffers => new(X.Pointer, TopkIds.Pointer, TopkWeights.Pointer, Output.Pointer);

    /// <summary>
    /// Queues one step through the prefill GEMMs (kernels/moe_prefill.cu) over the same buffers as
    /// <see cref="Forward(CudaStream, int, MoeLaunchConfig, CudaEvent[])"/>: moe_prepare, the tile schedule, gate/up with
    /// SiLU x up fused (f16 h in slot order), down (float32 y in slot order), moe_combine. When <paramref name="marks"/>
    /// holds 6 events, they are recorded before and after each of the five launches.
    /// </summary>
    public void ForwardPrefill(CudaStream stream, int tokens, MoePrefillConfig config, CudaEvent[]? marks = null, MoeStepBuffers? io = null, bool shared = false)
    {
        MoeStepBuffers b = io ?? DefaultBuffers;
        int sh = SharedSlots(shared);
        if (tokens < 1 || tokens > MaxTokens)
        {
            throw new ArgumentOutOfRangeException(nameof(tokens), $"{tokens} tokens; this layer was sized for 1..{MaxTokens}");
        }

        if (!config.IsSupported)
        {
            throw new ArgumentException($"unsupported MoE prefill config {config} (shared memory {config.SharedBytes} bytes)");
        }

        int s = tokens * (TopK + sh), all = Experts + sh;
        Dim3 gateUpGrid = config.GateUpGrid(Intermediate, s, all);
        Dim3 downGrid = config.DownGrid(Hidden, s, all);
        CudaKernel gateUp = _prefillGemms["moe_prefill_gate_up" + config.KernelSuffix];
        CudaKernel down = _prefillGemms["moe_prefill_down" + config.KernelSuffix];
        gateUp.SetMaxDynamicSharedMemory(config.SharedBytes);
        down.SetMaxDynamicSharedMemory(config.SharedBytes);
        uint sharedBytes = (uint)config.SharedBytes;

        marks?[0].Record(stream);
        int convertBlocks = (int)Math.Min(((long)tokens * Hidden / 2 + Block - 1) / Block, 528);
        _prepare.Launch(stream, 1 + convertBlocks, Block, 0, b.TopkIds, tokens, TopK, all, _meta, _slotToken, _slotOf, b.X, _x16, Hidden, sh);
        marks?[1].Record(stream);
        _schedule.Launch(stream, 1, 1024, 0, _meta, all, config.TokensPerCta, _schedTiles, _schedCount);
        marks?[2].Record(stream);
        gateUp.Launch(stream, gateUpGrid, config.Threads, sharedBytes, W13, S13, _x16, _meta, _slotToken, _schedTiles, _schedCount, _h16, all, Hidden, Intermediate);
        marks?[3].Record(stream);
        down.Launch(stream, downGrid, config.Threads, sharedBytes, W2, S2, _h16, _meta, _schedTiles, _schedCount, _y, all, Hidden, Intermediate);
        marks?[4].Record(stream);
        _combine.Launch(stream, new Dim3((uint)((Hidden / 4 + Block - 1) / Block), (uint)tokens), Block, 0, _y, _slotOf, b.TopkWeights, TopK, Hidden, 1, s, b.Output, sh);
        marks?[5].Record(stream);
    }

    /// <summary>
    /// Fills the step's intermediate buffers (f16 x and h, float32 gate/up partials and down outputs) with NaNs, so a
    /// check sees any entry that a step reads without having written it (stale values of an earlier step would hide it).
    /// </summary>
    public void PoisonScratch()
    {
        const uint F16NaNPair = 0x7E007E00u, F32NaN = 0x7FC00000u;
        _x16.Fill32(F16NaNPair);
        _h16.Fill32(F16NaNPair);
        _partial.Fill32(F32NaN);
        _y.Fill32(F32NaN);
    }

    /// <summary>The always-on slots a step adds per token: <see cref="SharedExperts"/> when asked for, else 0.</summary>
    private int SharedSlots(bool shared) => !shared ? 0 : SharedExperts > 0
        ? SharedExperts
        : throw new InvalidOperationException("this layer has no shared-expert slots to run with its routed experts (sharedExperts: 0)");

    /// <summary>Splits <paramref name="chunks"/> K chunks into at most <paramref name="wanted"/> equal runs: (runs, chunks per run).</summary>
    private static (int Splits, int PerSplit) SplitK(int chunks, int wanted)
    {
        int per = (chunks + Math.Max(1, wanted) - 1) / Math.Max(1, wanted);
        return ((chunks + per - 1) / per, per);
    }

    public void Dispose()
    {
        foreach (DeviceBuffer b in _owned)
        {
            b.Dispose();
        }

        if (_ownsScratch)
        {
            _scratch.Dispose();
        }
    }

    private DeviceBuffer Own(DeviceBuffer b)
    {
        _owned.Add(b);
        return b;
    }
}
