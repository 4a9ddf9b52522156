namespace R1Orleans.Cuda;

/// <summary>
/// MLA absorbed decode attention on the GPU over a paged BF16 latent cache (FlashMLA's layout), on tensor cores:
/// kernels/mla_decode.cu (mma.sync) or kernels/mla_decode_wgmma.cu (Hopper's wgmma), see <see cref="MlaDecodeKernel"/>. Buffers: <see cref="Q"/> [batch, heads, 576] bf16 (q_nope absorbed through W_UK, then
/// q_rope), <see cref="Cache"/> [pages, 64, 576] bf16 (latent c, then the rotated k_rope), <see cref="BlockTable"/>
/// [batch, maxPagesPerSequence] int, <see cref="SeqLens"/> [batch] int, <see cref="Output"/> [batch, heads, 512] float32:
/// out[b, h] = softmax_u((q[b, h] · cache_row(u)) · scale, u &lt; seqlen[b]) · c(u).
/// Work is split over (KV split, sequence, block of 64 heads); with more than one split a combine merges the splits.
/// </summary>
public sealed class MlaDecode : IDisposable
{
    /// <summary>Tokens per cache page.</summary>
    public const int PageSize = 64;

    /// <summary>Latent dims (kv_lora_rank), the value width.</summary>
    public const int LatentDim = 512;

    /// <summary>Rotated key dims (qk_rope_head_dim).</summary>
    public const int RopeDim = 64;

    /// <summary>Dims of a cache row and of a query: latent then rope.</summary>
    public const int HeadDim = LatentDim + RopeDim;

    /// <summary>Heads that share one KV tile in a CTA.</summary>
    public const int HeadsPerCta = 64;

    /// <summary>Dynamic shared memory of mla_decode (Q, two KV stages, P and the row statistics): one CTA per SM.</summary>
    public const int SharedBytes = 230_400;

    /// <summary>Dynamic shared memory of mla_decode_wgmma: the same buffers in 1024-aligned swizzled chunks, plus the alignment slack.</summary>
    public const int WgmmaSharedBytes = 230_912;

    /// <summary>The kernel modules an MlaDecode loads from (either kernel, and the combine).</summary>
    public static readonly string[] Modules = ["mla_decode", "mla_decode_wgmma"];

    private const int Threads = 256;
    private readonly CudaKernel _decode;
    private readonly CudaKernel _combine;
    private readonly List<DeviceBuffer> _owned = [];
    private readonly DeviceBuffer _oPart;
    private readonly DeviceBuffer _lsePart;

    /// <param name="kernel">The decode kernel; null: <see cref="MlaDecodeKernels.DefaultFor"/> the device.</param>
    public MlaDecode(CudaContext context, KernelLibrary kernels, int maxBatch, int heads, int maxPagesPerSequence, int cachePages, int maxSplits = 64, MlaDecodeKernel? kernel = null)
    {
        if (heads < HeadsPerCta || heads % HeadsPerCta != 0 || maxBatch is < 1 or > 65535 || maxPagesPerSequence < 1 || cachePages < 1 || maxSplits < 1)
        {
            throw new ArgumentException($"MLA decode shape not supported: heads {heads} (a multiple of {HeadsPerCta}), batch {maxBatch} (1..65535, the grid's z), {maxPagesPerSequence} pages per sequence, {cachePages} cache pages, {maxSplits} splits");
        }

        MaxBatch = maxBatch;
        Heads = heads;
        MaxPagesPerSequence = maxPagesPerSequence;
        CachePages = cachePages;
        MaxSplits = maxSplits;
        Multiprocessors = context.MultiprocessorCount;
        Kernel = kernel ?? MlaDecodeKernels.DefaultFor(context.ComputeCapability);
        MlaDecodeKernels.Require(Kernel, context.ComputeCapability);
        _decode = Kernel == MlaDecodeKernel.Wgmma ? kernels.Kernel("mla_decode_wgmma", "mla_decode_wgmma") : kernels.Kernel("mla_decode", "mla_decode");
        _combine = kernels.Kernel("mla_decode", "mla_decode_combine");
        _decode.SetMaxDynamicSharedMemory(DecodeSharedBytes);
        long b = maxBatch, h = heads;
        Q = Own(context.Allocate(b * h * HeadDim * 2));
        Cache = Own(context.Allocate((long)cachePages * PageSize * HeadDim * 2));
        BlockTable = Own(context.Allocate(b * maxPagesPerSequence * 4));
        SeqLens = Own(context.Allocate(b * 4));
        Output = Own(context.Allocate(b * h * LatentDim * 4));
        _oPart = Own(context.Allocate(b * h * maxSplits * LatentDim * 4));
        _lsePart = Own(context.Allocate(b * h * maxSplits * 4));
    }

    public int MaxBatch { get; }

    /// <summary>Which kernel runs the decode (the combine is shared).</summary>
    public MlaDecodeKernel Kernel { get; }

    private int DecodeSharedBytes => Kernel == MlaDecodeKernel.Wgmma ? WgmmaSharedBytes : SharedBytes;

    public int Heads { get; }

    public int MaxPagesPerSequence { get; }

    public int CachePages { get; }

    public int MaxSplits { get; }

    /// <summary>SMs of the device, for <see cref="ChooseSplits"/>.</summary>
    public int Multiprocessors { get; }

    /// <summary>[maxBatch, heads, 576] bf16.</summary>
    public DeviceBuffer Q { get; }

    /// <summary>[cachePages, 64, 576] bf16.</summary>
    public DeviceBuffer Cache { get; }

    /// <summary>[maxBatch, maxPagesPerSequence] int page indices into <see cref="Cache"/>.</summary>
    public DeviceBuffer BlockTable { get; }

    /// <summary>[maxBatch] int, each at least 1.</summary>
    public DeviceBuffer SeqLens { get; }

    /// <summary>[maxBatch, heads, 512] float32.</summary>
    public DeviceBuffer Output { get; }

    /// <summary>
    /// KV splits per sequence for a launch: CTAs run one per SM (shared memory), so a launch of
    /// batch × heads/64 × splits CTAs takes ⌈CTAs / SMs⌉ waves of ⌈pages / splits⌉ pages each, plus about one page's
    /// time per CTA for the query load and the epilogue. Returns the split count with the fewest page-times (the
    /// smallest on ties, as every extra split adds combine work), at most one split per page and at most <paramref name="maxSplits"/>.
    /// </summary>
    public static int ChooseSplits(int batch, int heads, int maxSeqLen, int multiprocessors, int maxSplits)
    {
        if (batch < 1 || heads < HeadsPerCta || maxSeqLen < 1 || multiprocessors < 1 || maxSplits < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(batch), $"batch {batch}, heads {heads}, longest sequence {maxSeqLen}, {multiprocessors} SMs, {maxSplits} splits");
        }

        long ctas = (long)batch * (heads / HeadsPerCta);
        int pages = (maxSeqLen + PageSize - 1) / PageSize;
        int best = 1;
        long bestCost = long.MaxValue;
        for (int s = 1; s <= Math.Min(maxSplits, pages); s++)
        {
            long waves = ((ctas * s) + multiprocessors - 1) / multiprocessors;
            long cost = waves * (((pages + s - 1) / s) + 1);
            if (cost < bestCost)
            {
                bestCost = cost;
                best = s;
            }
        }

        return best;
    }

    /// <summary>
    /// Checks a batch before upload: every sequence length in [1, maxPagesPerSequence × blockSize], and the first
    /// ⌈seqlen / blockSize⌉ block-table entries of each sequence in [0, cachePages) (the rest are never read).
    /// </summary>
    public static void ValidateBatch(ReadOnlySpan<int> blockTable, ReadOnlySpan<int> seqLens, int batch, int maxPagesPerSequence, int cachePages, int blockSize = PageSize)
    {
        if (seqLens.Length < batch || blockTable.Length < (long)batch * maxPagesPerSequence)
        {
            throw new ArgumentException($"a batch of {batch} needs {batch} sequence lengths and {batch} x {maxPagesPerSequence} block-table entries; got {seqLens.Length} and {blockTable.Length}");
        }

        for (int b = 0; b < batch; b++)
        {
            int len = seqLens[b];
            if (len < 1 || len > (long)maxPagesPerSequence * blockSize)
            {
                throw new ArgumentOutOfRangeException(nameof(seqLens), $"sequence {b}: length {len} is outside [1, {maxPagesPerSequence * blockSize}]");
            }

            for (int p = 0; p < (len + blockSize - 1) / blockSize; p++)
            {
                int page = blockTable[(b * maxPagesPerSequence) + p];
                if ((uint)page >= (uint)cachePages)
                {
                    throw new ArgumentOutOfRangeException(nameof(blockTable), $"sequence {b} page {p}: cache page {page} is outside [0, {cachePages})");
                }
            }
        }
    }

    /// <summary>
    /// Queues the decode of the first <paramref name="batch"/> sequences: <paramref name="splits"/> KV splits per
    /// sequence (0: <see cref="ChooseSplits"/> with <paramref name="maxSeqLen"/>), softmax scale <paramref name="scale"/>.
    /// When <paramref name="marks"/> holds 3 events they are recorded before, between and after the two launches.
    /// Returns the split count used.
    /// </summary>
    public int Forward(CudaStream stream, int batch, float scale, int maxSeqLen, int splits = 0, CudaEvent[]? marks = null) =>
        Forward(stream, batch, scale, maxSeqLen, new MlaDecodeInputs(Q.Pointer, Cache.Pointer, BlockTable.Pointer, MaxPagesPerSequence, PageSize, SeqLens.Pointer, Output.Pointer), splits, marks);

    /// <summary>
    /// The same over buffers the caller owns (<paramref name="io"/>: e.g. the device forward's cache of 16-token blocks,
    /// tables as wide as its pool, and its attention output); the split partials stay this object's.
    /// </summary>
    public int Forward(CudaStream stream, int batch, float scale, int maxSeqLen, MlaDecodeInputs io, int splits = 0, CudaEvent[]? marks = null)
    {
        if (io.BlockSize < 1 || PageSize % io.BlockSize != 0 || io.TableWidth < 1)
        {
            throw new ArgumentException($"blocks of {io.BlockSize} tokens (a divisor of {PageSize}) and tables of {io.TableWidth} entries");
        }

        if (batch < 1 || batch > MaxBatch)
        {
            throw new ArgumentOutOfRangeException(nameof(batch), $"{batch} sequences; this decode was sized for 1..{MaxBatch}");
        }

        if (splits == 0)
        {
            splits = ChooseSplits(batch, Heads, maxSeqLen, Multiprocessors, MaxSplits);
        }

        if (splits < 1 || splits > MaxSplits)
        {
            throw new ArgumentOutOfRangeException(nameof(splits), $"{splits} splits; this decode was sized for 1..{MaxSplits}");
        }

        marks?[0].Record(stream);
        _decode.Launch(stream, new Dim3((uint)(Heads / HeadsPerCta), (uint)splits, (uint)batch), Threads, (uint)DecodeSharedBytes,
            io.Q, io.Cache, io.BlockTable, io.SeqLens, Heads, io.TableWidth, io.BlockSize, splits, scale, io.Output, _oPart, _lsePart);
        marks?[1].Record(stream);
        if (splits > 1)
        {
            _combine.Launch(stream, batch * Heads, 128, 0, _oPart, _lsePart, splits, io.Output);
        }

        marks?[2].Record(stream);
        return splits;
    }

    /// <summary>Fills the split partials (outputs and log-sum-exps) with <paramref name="bits"/>, so a check sees any the kernel left unwritten.</summary>
    public void PoisonPartials(uint bits)
    {
        _oPart.Fill32(bits);
        _lsePart.Fill32(bits);
    }

    /// <summary>FLOPs of one decode: 2 · batch · heads · context · (576 + 512) (scores and the weighted sum of latents).</summary>
    public static double Flops(int batch, int heads, long context) => 2.0 * batch * heads * context * (HeadDim + LatentDim);

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
