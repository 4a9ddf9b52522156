namespace R1Orleans.Cuda;

/// <summary>
/// A dense linear over an FP8 weight with 128x128 block scales on tensor cores: moe_fp8.cu's down GEMM (mma.sync,
/// weights streamed once per pass of 8 × token tiles rows, f16 activations, float32 sums scaled per block) run as an
/// MoE with one expert that every row goes to, then moe_combine with weight 1 to sum the K splits. The fast path for
/// more than a few rows, where the CUDA-core kernels (linear_fp8.cu) are compute-bound; it rounds activations to f16,
/// as the routed experts' fast path does. Weights are repacked once into the GEMM's tile order (<see cref="Pack"/>);
/// a weight whose rows are not a multiple of 128 (kv_a_proj_with_mqa's 576) is packed with zero rows up to the next
/// multiple (its last scale block already covers them) and only its own rows are written out (dense_sum_splits).
/// </summary>
public sealed class DenseFp8Mma : IDisposable
{
    /// <summary>Token tiles (of 8 rows) per weight pass for a row count: 32 rows share one read from 17 rows up.</summary>
    public static MoeLaunchConfig ConfigFor(int rows, int outputRows) =>
        new(1, rows > 16 ? 4 : rows > 8 ? 2 : 1, 4, 4, MoeRing.CtaAsync, outputRows <= 4096 ? 4 : outputRows <= 8192 ? 2 : 1);

    private readonly CudaContext _context;
    private readonly KernelLibrary _kernels;
    private readonly CudaKernel _prepare, _combine, _sumSplits, _pack;
    private readonly Dictionary<DeviceWeight, DeviceBuffer> _packed = [];
    private readonly DeviceBuffer _x16, _meta, _slotOf, _ones, _y;

    public DenseFp8Mma(CudaContext context, KernelLibrary kernels, int maxRows, int maxCols, int maxOutputRows)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(kernels);
        _context = context;
        _kernels = kernels;
        MaxRows = maxRows;
        MaxCols = maxCols;
        MaxOutputRows = maxOutputRows;
        _prepare = kernels.Kernel("forward", "dense_prepare");
        _combine = kernels.Kernel("moe_fp8", "moe_combine");
        _sumSplits = kernels.Kernel("forward", "dense_sum_splits");
        _pack = kernels.Kernel("moe_fp8", "moe_pack_tiles");
        _x16 = context.Allocate(Math.Max(256, (long)maxRows * maxCols * 2));
        _meta = context.Allocate(256);
        _slotOf = context.Allocate(Math.Max(256, maxRows * 4L));
        _ones = context.Allocate(Math.Max(256, maxRows * 4L));
        _y = context.Allocate(Math.Max(256, (long)MoeFp8Experts.MaxDownSplits * maxRows * PaddedRows(maxOutputRows) * 4));
        _slotOf.Upload<int>([.. Enumerable.Range(0, maxRows)]);
        _ones.Upload<float>([.. Enumerable.Repeat(1f, maxRows)]);
    }

    public int MaxRows { get; }

    public int MaxCols { get; }

    public int MaxOutputRows { get; }

    /// <summary>Packed weight bytes held.</summary>
    public long PackedBytes => _packed.Values.Sum(b => b.Bytes);

    /// <summary>Rows rounded up to the GEMM's 128-row CTA tile.</summary>
    public static int PaddedRows(int rows) => (rows + 127) / 128 * 128;

    /// <summary>True for FP8 weights with 128x128 blocks, columns a multiple of 128, within the sizes given.</summary>
    public bool Supports(DeviceWeight w) =>
        w.IsFp8 && w.BlockRows == 128 && w.BlockCols == 128 && w.Cols % 128 == 0 && w.Cols <= MaxCols && PaddedRows(w.Rows) <= PaddedRows(MaxOutputRows);

    public bool IsPacked(DeviceWeight w) => _packed.ContainsKey(w);

    /// <summary>Queues the weight's repacking into tile order (once; call before any graph capture; a padded weight waits for the stream).</summary>
    public void Pack(DeviceWeight w, CudaStream stream)
    {
        ArgumentNullException.ThrowIfNull(w);
        if (!Supports(w))
        {
            throw new ArgumentException($"weight [{w.Rows}, {w.Cols}] is not an FP8 weight with 128x128 blocks and 128-multiple sides within [{MaxOutputRows}, {MaxCols}]");
        }

        if (_packed.ContainsKey(w))
        {
            return;
        }

        int rows = PaddedRows(w.Rows);
        DeviceBuffer b = _context.Allocate((long)rows * w.Cols);
        if (rows == w.Rows)
        {
            _pack.Launch(stream, _context.MultiprocessorCount * 16, 256, 0, w.Pointer, b, 1, rows, w.Cols);
        }
        else
        {
            using DeviceBuffer staging = _context.Allocate((long)rows * w.Cols);
            staging.Fill32Async(0, stream);
            staging.CopyFromAsync(w.Buffer, (long)w.Rows * w.Cols, stream);
            _pack.Launch(stream, _context.MultiprocessorCount * 16, 256, 0, staging, b, 1, rows, w.Cols);
            stream.Synchronize();
        }

        _packed[w] = b;
    }

    /// <summary>Queues y[n, w.Rows] = x[n, w.Cols] · wᵀ (float32 in and out) for a packed weight.</summary>
    public void Launch(CudaStream stream, ulong x, int n, DeviceWeight w, ulong y)
    {
        ArgumentNullException.ThrowIfNull(w);
        if (n < 1 || n > MaxRows)
        {
            throw new ArgumentOutOfRangeException(nameof(n), $"{n} rows; sized for 1..{MaxRows}");
        }

        DeviceBuffer packed = _packed.TryGetValue(w, out DeviceBuffer? p) ? p : throw new InvalidOperationException($"weight [{w.Rows}, {w.Cols}] was not packed");
        int rows = PaddedRows(w.Rows);
        MoeLaunchConfig config = ConfigFor(n, rows);
        int chunks = w.Cols / 128;
        int per = (chunks + config.DownSplits - 1) / config.DownSplits;
        int splits = (chunks + per - 1) / per;
        long pairs = (long)n * w.Cols / 2;
        _prepare.Launch(stream, (int)Math.Min((pairs + 255) / 256, _context.MultiprocessorCount * 8L), 256, 0, x, _x16, pairs, _meta, n);
        CudaKernel down = _kernels.Kernel("moe_fp8", "moe_down" + config.KernelSuffix);
        if (config.SharedBytes > 48 * 1024)
        {
            down.SetMaxDynamicSharedMemory(config.SharedBytes);
        }

        down.Launch(stream, new Dim3((uint)(rows / (32 * config.Warps)), (uint)splits), 32 * config.Warps, (uint)config.SharedBytes, packed, w.ScalesPointer, _x16, _meta, _y, 1, rows, w.Cols, n, per);
        if (rows == w.Rows)
        {
            _combine.Launch(stream, new Dim3((uint)((w.Rows / 4 + 255) / 256), (uint)n), 256, 0, _y, _slotOf, _ones, 1, w.Rows, splits, n, y, 0);
        }
        else
        {
            _sumSplits.Launch(stream, new Dim3((uint)((w.Rows + 255) / 256), (uint)n), 256, 0, _y, splits, n, rows, w.Rows, y);
        }
    }

    public void Dispose()
    {
        foreach (DeviceBuffer b in _packed.Values)
        {
            b.Dispose();
        }

        _packed.Clear();
        foreach (DeviceBuffer b in new[] { _x16, _meta, _slotOf, _ones, _y })
        {
            b.Dispose();
        }
    }
}
