namespace R1Orleans.Cuda;

/// <summary>
/// Batched dense linears over BF16 weights on tensor cores (kernels/linear_bf16.cu): y[b][t, r] = x[b][t, :] · W[b][r, :]
/// with x rounded to BF16 (<see cref="Convert"/>) and float32 sums. The device forward's lm_head and absorbed per-head
/// projections in fast mode, where float32 on CUDA cores is compute-bound. Each weight byte is read once per pass of up
/// to <see cref="MaxTokensPerPass"/> tokens; every CTA shares its tokens' chunk in a cp.async ring.
/// </summary>
public sealed class Bf16Linears(CudaContext context, KernelLibrary kernels)
{
    /// <summary>Stages of the cp.async ring (the kernel's BF16_DEPTH).</summary>
    public const int Depth = 4;

    /// <summary>Warps per CTA (BF16_WARPS); each owns 16 or 32 weight rows.</summary>
    public const int Warps = 8;

    /// <summary>Tokens one launch takes: 8 tiles of 8.</summary>
    public const int MaxTokensPerPass = 64;

    private readonly CudaKernel _convert = kernels.Kernel("linear_bf16", "to_bf16");
    private readonly CudaKernel _pack = kernels.Kernel("moe_fp8", "moe_pack_tiles");

    /// <summary>True when linear_bf16 takes a [rows, cols] matrix: rows a multiple of 16, cols of 64.</summary>
    public static bool Supports(int rows, int cols) => rows > 0 && cols > 0 && rows % 16 == 0 && cols % 64 == 0;

    /// <summary>Dynamic shared memory of a launch: the ring's stages of token units and each warp's weight units.</summary>
    public static int SharedBytes(int tokenTiles, int rowTiles) => Depth * ((64 * tokenTiles) + (Warps * 128 * rowTiles)) * 16;

    /// <summary>
    /// Token tiles of 8 (1, 2, 4 or 8: the fewest that hold the pass) and 16-row tiles per warp (2 once there are at
    /// least two waves of such CTAs, which halves the token copies per weight byte; else 1, for more CTAs).
    /// </summary>
    public static (int TokenTiles, int RowTiles) ConfigFor(int tokens, int rows, int batches, int multiprocessors)
    {
        int t = Math.Clamp(tokens, 1, MaxTokensPerPass);
        int tokenTiles = t <= 8 ? 1 : t <= 16 ? 2 : t <= 32 ? 4 : 8;
        long tiles = (long)rows / 16 * batches;
        int rowTiles = tiles >= 2L * 2 * Warps * multiprocessors ? 2 : 1;
        return (tokenTiles, rowTiles);
    }

    /// <summary>Queues x16[i] = bf16(x[i]) for an even count of floats.</summary>
    public void Convert(CudaStream stream, ulong x, long count, ulong x16)
    {
        if (count % 2 != 0)
        {
            throw new ArgumentException($"to_bf16 converts pairs; {count} floats is odd", nameof(count));
        }

        long pairs = count / 2;
        _convert.Launch(stream, (int)Math.Clamp((pairs + 255) / 256, 1, context.MultiprocessorCount * 16L), 256, 0, x, x16, pairs);
    }

    /// <summary>
    /// Packs <paramref name="batches"/> float32 matrices [rows, cols] (one after another at <paramref name="float32"/>)
    /// as BF16 in tile order; waits for the stream, since the float32 → BF16 staging buffer is freed before returning.
    /// </summary>
    public PackedBf16 Pack(CudaStream stream, ulong float32, int batches, int rows, int cols)
    {
        ArgumentNullException.ThrowIfNull(stream);
        if (batches < 1 || !Supports(rows, cols))
        {
            throw new ArgumentException($"linear_bf16 takes [rows, cols] with rows a multiple of 16 and cols of 64; got {batches} x [{rows}, {cols}]");
        }

        long count = (long)batches * rows * cols;
        using DeviceBuffer staging = context.Allocate(count * 2);
        DeviceBuffer packed = context.Allocate(count * 2);
        Convert(stream, float32, count, staging.Pointer);
        _pack.Launch(stream, context.MultiprocessorCount * 16, 256, 0, staging, packed, batches, rows, 2 * cols);
        stream.Synchronize();
        return new PackedBf16(packed, batches, rows, cols);
    }

    /// <summary>
    /// Queues y[b][t, r] = Σ_k x16[b][t, k] · W[b][r, k] for t &lt; n: token t of batch b at x16 + 2 (b·xb + t·xs) bytes
    /// (BF16, 16-byte aligned: xs and xb multiples of 8), its outputs at y + 4 (b·yb + t·ys) bytes (float32). Tokens
    /// past 64 go in further passes over the weights.
    /// </summary>
    public void Launch(CudaStream stream, PackedBf16 w, ulong x16, int n, long xs, long xb, ulong y, long ys, long yb)
    {
        ArgumentNullException.ThrowIfNull(w);
        if (xs % 8 != 0 || xb % 8 != 0 || x16 % 16 != 0)
        {
            throw new ArgumentException($"BF16 tokens must start 16-byte aligned: x16 {x16:x}, strides {xs} and {xb} elements");
        }

        for (int t0 = 0; t0 < n; t0 += MaxTokensPerPass)
        {
            int tokens = Math.Min(MaxTokensPerPass, n - t0);
            (int nt, int mt) = ConfigFor(tokens, w.Rows, w.Batches, context.MultiprocessorCount);
            CudaKernel k = kernels.Kernel("linear_bf16", $"linear_bf16_nt{nt}_mt{mt}");
            int shared = SharedBytes(nt, mt);
            k.SetMaxDynamicSharedMemory(shared);
            int perCta = Warps * mt;
            var grid = new Dim3((uint)(((w.Rows / 16) + perCta - 1) / perCta), (uint)w.Batches);
            k.Launch(stream, grid, 32 * Warps, (uint)shared, w.Buffer, x16 + ((ulong)t0 * (ulong)xs * 2), y + ((ulong)t0 * (ulong)ys * 4), tokens, w.Rows, w.Cols, xs, xb, ys, yb);
        }
    }
}
