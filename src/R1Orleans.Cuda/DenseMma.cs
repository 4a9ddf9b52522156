namespace R1Orleans.Cuda;

/// <summary>
/// Dense linears on tensor cores (kernels/dense_mma.cu): y[b][t, r] = x[b][t, :] · W[b][r, :] over BF16 weights (x rounded
/// to BF16) or FP8 e4m3 weights with 128x128 block scales (x rounded to f16), float32 sums. The device forward's fast
/// mode: its FP8 linears, lm_head and the absorbed per-head projections. Each weight byte is read once per pass of up
/// to <see cref="MaxTokensPerPass"/> tokens, every CTA sharing its tokens' chunk in a cp.async ring; few row tiles
/// split K over more CTAs (partial sums, then dense_sum_splits) so that every SM streams weights.
/// </summary>
public sealed class DenseMma : IDisposable
{
    /// <summary>Stages of the cp.async ring (the kernel's DENSE_DEPTH).</summary>
    public const int Depth = 4;

    /// <summary>Warps per CTA (DENSE_WARPS); each owns 16 or 32 weight rows.</summary>
    public const int Warps = 8;

    /// <summary>Tokens one launch takes: 8 tiles of 8.</summary>
    public const int MaxTokensPerPass = 64;

    /// <summary>The most K splits of one launch.</summary>
    public const int MaxSplits = 8;

    private readonly CudaContext _context;
    private readonly KernelLibrary _kernels;
    private readonly CudaKernel _toBf16, _toF16, _pack, _sumSplits, _sumSplitsPair;
    private DeviceBuffer? _partials;

    public DenseMma(CudaContext context, KernelLibrary kernels)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(kernels);
        _context = context;
        _kernels = kernels;
        _toBf16 = kernels.Kernel("dense_mma", "to_bf16");
        _toF16 = kernels.Kernel("dense_mma", "to_f16");
        _pack = kernels.Kernel("moe_fp8", "moe_pack_tiles");
        _sumSplits = kernels.Kernel("forward", "dense_sum_splits");
        _sumSplitsPair = kernels.Kernel("forward", "dense_sum_splits_pair");
    }

    /// <summary>True when dense_mma takes a BF16 [rows, cols] matrix: rows a multiple of 16, cols of 64.</summary>
    public static bool SupportsBf16(int rows, int cols) => rows > 0 && cols > 0 && rows % 16 == 0 && cols % 64 == 0;

    /// <summary>True when dense_mma takes an FP8 weight: 128x128 scale blocks, rows a multiple of 16, cols of 128.</summary>
    public static bool SupportsFp8(DeviceWeight w)
    {
        ArgumentNullException.ThrowIfNull(w);
        return w.IsFp8 && w.BlockRows == 128 && w.BlockCols == 128 && w.Rows > 0 && w.Rows % 16 == 0 && w.Cols > 0 && w.Cols % 128 == 0;
    }

    /// <summary>K elements of one chunk: 64 BF16 or 128 FP8 (2,048 bytes of a 16-row tile either way).</summary>
    public static int ChunkOf(bool fp8) => fp8 ? 128 : 64;

    /// <summary>Dynamic shared memory of a launch: the ring's stages of token units and each warp's weight units.</summary>
    public static int SharedBytes(bool fp8, int tokenTiles, int rowTiles) => Depth * ((tokenTiles * ChunkOf(fp8)) + (Warps * 128 * rowTiles)) * 16;

    /// <summary>
    /// A launch's shape: token tiles of 8 (1, 2, 4 or 8: the fewest that hold the pass), 16-row tiles per warp (2 once
    /// that still leaves two waves of CTAs, which halves the token copies per weight byte; else 1), and K splits (for a
    /// single matrix whose CTAs would not give every SM one, up to <see cref="MaxSplits"/>, whole chunks each).
    /// </summary>
    public static DenseMmaConfig ConfigFor(int tokens, int rows, int cols, int batches, bool fp8, int multiprocessors)
    {
        int t = Math.Clamp(tokens, 1, MaxTokensPerPass);
        int tokenTiles = t <= 8 ? 1 : t <= 16 ? 2 : t <= 32 ? 4 : 8;
        long tiles = (long)rows / 16 * batches;
        int rowTiles = tiles >= 2L * 2 * Warps * multiprocessors ? 2 : 1;
        long ctas = (((long)rows / 16) + (Warps * rowTiles) - 1) / (Warps * rowTiles) * batches;
        int chunks = cols / ChunkOf(fp8);
        int wanted = batches == 1 ? (int)Math.Clamp(multiprocessors / Math.Max(1, ctas), 1, MaxSplits) : 1;
        int per = (chunks + wanted - 1) / wanted;
        return new DenseMmaConfig(tokenTiles, rowTiles, (chunks + per - 1) / per, per);
    }

    /// <summary>Queues x16[i] = bf16(x[i]) (or f16) for an even count of floats.</summary>
    public void Convert(CudaStream stream, ulong x, long count, ulong x16, bool toF16 = false)
    {
        if (count % 2 != 0)
        {
            throw new ArgumentException($"the conversion takes pairs; {count} floats is odd", nameof(count));
        }

        long pairs = count / 2;
        (toF16 ? _toF16 : _toBf16).Launch(stream, (int)Math.Clamp((pairs + 255) / 256, 1, _context.MultiprocessorCount * 16L), 256, 0, x, x16, pairs);
    }

    /// <summary>
    /// Packs <paramref name="batches"/> float32 matrices [rows, cols] (one after another at <paramref name="float32"/>)
    /// as BF16 in tile order; waits for the stream, since the BF16 staging buffer is freed before returning.
    /// </summary>
    public PackedMatrix PackBf16(CudaStream stream, ulong float32, int batches, int rows, int cols)
    {
        ArgumentNullException.ThrowIfNull(stream);
        if (batches < 1 || !SupportsBf16(rows, cols))
        {
            throw new ArgumentException($"dense_mma takes BF16 [rows, cols] with rows a multiple of 16 and cols of 64; got {batches} x [{rows}, {cols}]");
        }

        long count = (long)batches * rows * cols;
        using DeviceBuffer staging = _context.Allocate(count * 2);
        DeviceBuffer packed = _context.Allocate(count * 2);
        Convert(stream, float32, count, staging.Pointer);
        _pack.Launch(stream, _context.MultiprocessorCount * 16, 256, 0, staging, packed, batches, rows, 2 * cols);
        stream.Synchronize();
        return new PackedMatrix(packed, batches, rows, cols, false, 0);
    }

    /// <summary>Queues the repacking of an FP8 weight's codes into tile order (its scales are read where they are).</summary>
    public PackedMatrix PackFp8(CudaStream stream, DeviceWeight w)
    {
        ArgumentNullException.ThrowIfNull(w);
        if (!SupportsFp8(w))
        {
            throw new ArgumentException($"dense_mma takes FP8 weights with 128x128 blocks, rows a multiple of 16 and cols of 128; got [{w.Rows}, {w.Cols}]{(w.IsFp8 ? $" blocks {w.BlockRows}x{w.BlockCols}" : " float32")}");
        }

        DeviceBuffer packed = _context.Allocate((long)w.Rows * w.Cols);
        _pack.Launch(stream, _context.MultiprocessorCount * 16, 256, 0, w.Pointer, packed, 1, w.Rows, w.Cols);
        return new PackedMatrix(packed, 1, w.Rows, w.Cols, true, w.ScalesPointer);
    }

    /// <summary>
    /// Stacks two FP8 weights over the same input (q_a and kv_a_proj_with_mqa; an MLP's gate and up) into one packed
    /// matrix, so that one launch reads both; <see cref="LaunchPair"/> writes each one's outputs to its own buffer. The
    /// first weight's rows must be a multiple of 128, so that the scales stack as whole blocks. Waits for the stream.
    /// </summary>
    public PackedMatrix PackFp8Pair(CudaStream stream, DeviceWeight first, DeviceWeight second)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentNullException.ThrowIfNull(first);
        ArgumentNullException.ThrowIfNull(second);
        if (!SupportsFp8Pair(first, second))
        {
            throw new ArgumentException($"a fused pair needs two FP8 weights dense_mma takes with the same columns, the first's rows a multiple of 128; got [{first.Rows}, {first.Cols}] and [{second.Rows}, {second.Cols}]");
        }

        int rows = first.Rows + second.Rows, cols = first.Cols;
        long firstScales = DeviceWeight.ScaleCount(first.Rows, cols, 128, 128) * sizeof(float);
        long secondScales = DeviceWeight.ScaleCount(second.Rows, cols, 128, 128) * sizeof(float);
        DeviceBuffer packed = _context.Allocate((long)rows * cols);
        DeviceBuffer scales = _context.Allocate(firstScales + secondScales);
        _pack.Launch(stream, _context.MultiprocessorCount * 16, 256, 0, first.Pointer, packed, 1, first.Rows, cols);
        _pack.Launch(stream, _context.MultiprocessorCount * 16, 256, 0, second.Pointer, packed.Pointer + ((ulong)first.Rows * (ulong)cols), 1, second.Rows, cols);
        scales.CopyFromAsync(first.ScalesPointer, firstScales, stream, 0);
        scales.CopyFromAsync(second.ScalesPointer, secondScales, stream, firstScales);
        stream.Synchronize();
        return new PackedMatrix(packed, 1, rows, cols, true, scales.Pointer, first.Rows, scales);
    }

    /// <summary>True when <see cref="PackFp8Pair"/> takes the two weights.</summary>
    public static bool SupportsFp8Pair(DeviceWeight first, DeviceWeight second)
    {
        ArgumentNullException.ThrowIfNull(first);
        ArgumentNullException.ThrowIfNull(second);
        return SupportsFp8(first) && SupportsFp8(second) && first.Cols == second.Cols && first.Rows % 128 == 0;
    }

    /// <summary>
    /// Queues a fused pair's step: first[t, :] and second[t, :] for n tokens of x16 (f16, rows of Cols), each written
    /// with its own rows (of <see cref="PackedMatrix.SplitRow"/> and Rows − SplitRow floats) by dense_sum_splits_pair.
    /// </summary>
    public void LaunchPair(CudaStream stream, PackedMatrix w, ulong x16, int n, ulong first, ulong second)
    {
        ArgumentNullException.ThrowIfNull(w);
        if (w.SplitRow <= 0 || w.SplitRow >= w.Rows)
        {
            throw new ArgumentException($"[{w.Rows}, {w.Cols}] is not a fused pair");
        }

        int secondRows = w.Rows - w.SplitRow;
        for (int t0 = 0; t0 < n; t0 += MaxTokensPerPass)
        {
            int tokens = Math.Min(MaxTokensPerPass, n - t0);
            DenseMmaConfig c = ConfigFor(tokens, w.Rows, w.Cols, 1, fp8: true, _context.MultiprocessorCount);
            long splitStride = (long)tokens * w.Rows;
            ulong partials = Partials(c.Splits * splitStride * 4);
            Gemm(stream, w, c, x16 + ((ulong)t0 * (ulong)w.Cols * 2), tokens, w.Cols, 0, partials, w.Rows, 0, splitStride);
            _sumSplitsPair.Launch(stream, new Dim3((uint)((w.Rows + 255) / 256), (uint)tokens), 256, 0, partials, c.Splits, tokens, w.Rows, w.SplitRow,
                first + ((ulong)t0 * (ulong)w.SplitRow * 4), second + ((ulong)t0 * (ulong)secondRows * 4));
        }
    }

    /// <summary>
    /// Queues y[b][t, r] = Σ_k x16[b][t, k] · W[b][r, k] for t &lt; n: token t of batch b at x16 + 2 (b·xb + t·xs) bytes
    /// (BF16 for BF16 weights, f16 for FP8; 16-byte aligned: xs and xb multiples of 8), its outputs at y + 4 (b·yb + t·ys)
    /// bytes (float32). Tokens past 64 go in further passes over the weights. A split launch (a single matrix with
    /// rows of ys = Rows) sums its partials into y.
    /// </summary>
    public void Launch(CudaStream stream, PackedMatrix w, ulong x16, int n, long xs, long xb, ulong y, long ys, long yb)
    {
        ArgumentNullException.ThrowIfNull(w);
        if (xs % 8 != 0 || xb % 8 != 0 || x16 % 16 != 0)
        {
            throw new ArgumentException($"16-bit tokens must start 16-byte aligned: x16 {x16:x}, strides {xs} and {xb} elements");
        }

        for (int t0 = 0; t0 < n; t0 += MaxTokensPerPass)
        {
            int tokens = Math.Min(MaxTokensPerPass, n - t0);
            DenseMmaConfig c = ConfigFor(tokens, w.Rows, w.Cols, w.Batches, w.IsFp8, _context.MultiprocessorCount);
            ulong xp = x16 + ((ulong)t0 * (ulong)xs * 2), yp = y + ((ulong)t0 * (ulong)ys * 4);
            ulong target = yp;
            long splitStride = 0;
            if (c.Splits > 1)
            {
                if (w.Batches != 1 || ys != w.Rows)
                {
                    throw new InvalidOperationException($"a K-split launch takes one matrix with contiguous rows; got {w.Batches} batches, row stride {ys} for {w.Rows} rows");
                }

                splitStride = (long)tokens * w.Rows;
                target = Partials(c.Splits * splitStride * 4);
            }

            Gemm(stream, w, c, xp, tokens, xs, xb, target, ys, yb, splitStride);

            if (c.Splits > 1)
            {
                _sumSplits.Launch(stream, new Dim3((uint)((w.Rows + 255) / 256), (uint)tokens), 256, 0, target, c.Splits, tokens, w.Rows, w.Rows, yp);
            }
        }
    }

    /// <summary>Sizes the partial-sum buffer for the largest split (or fused pair) launch to come (call before any graph capture).</summary>
    public void Reserve(PackedMatrix w, int maxTokens)
    {
        ArgumentNullException.ThrowIfNull(w);
        DenseMmaConfig c = ConfigFor(maxTokens, w.Rows, w.Cols, w.Batches, w.IsFp8, _context.MultiprocessorCount);
        if (c.Splits > 1 || w.SplitRow > 0)
        {
            Partials((long)c.Splits * Math.Min(maxTokens, MaxTokensPerPass) * w.Rows * 4);
        }
    }

    /// <summary>One dense_mma launch of a pass (tokens ≤ 64) into <paramref name="y"/> (partials when split).</summary>
    private void Gemm(CudaStream stream, PackedMatrix w, DenseMmaConfig c, ulong x16, int tokens, long xs, long xb, ulong y, long ys, long yb, long splitStride)
    {
        CudaKernel k = _kernels.Kernel("dense_mma", $"{(w.IsFp8 ? "dense_fp8" : "dense_bf16")}_nt{c.TokenTiles}_mt{c.RowTiles}");
        int shared = SharedBytes(w.IsFp8, c.TokenTiles, c.RowTiles);
        k.SetMaxDynamicSharedMemory(shared);
        int perCta = Warps * c.RowTiles;
        var grid = new Dim3((uint)(((w.Rows / 16) + perCta - 1) / perCta), (uint)w.Batches, (uint)c.Splits);
        if (w.IsFp8)
        {
            k.Launch(stream, grid, 32 * Warps, (uint)shared, w.Buffer, w.Scales, x16, y, tokens, w.Rows, w.Cols, xs, ys, c.PerSplit, splitStride);
        }
        else
        {
            k.Launch(stream, grid, 32 * Warps, (uint)shared, w.Buffer, x16, y, tokens, w.Rows, w.Cols, xs, xb, ys, yb, c.PerSplit, splitStride);
        }
    }

    public void Dispose() => _partials?.Dispose();

    /// <summary>The partial-sum buffer, grown (outside any capture: <see cref="Reserve"/> first) to at least this many bytes.</summary>
    private ulong Partials(long bytes)
    {
        if (_partials is null || _partials.Bytes < bytes)
        {
            _partials?.Dispose();
            _partials = _context.Allocate(bytes);
        }

        return _partials.Pointer;
    }
}
