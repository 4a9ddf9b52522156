namespace R1Orleans.Cuda;

/// <summary>
/// y[n, w.Rows] = x[n, w.Cols] · wᵀ on device pointers (kernels/linear.cu and linear_fp8.cu): up to
/// <see cref="GemvMaxTokens"/> rows per launch read each weight row once (gemv); more rows take 64x64 tiles, or, up to
/// <paramref name="gemvMaxRows"/>, gemv launches over runs of 8 rows (each weight byte read once per run).
/// </summary>
public sealed class LinearKernels(KernelLibrary kernels)
{
    /// <summary>Rows one gemv launch takes (the kernels' GEMV_MAX_TOKENS).</summary>
    public const int GemvMaxTokens = 8;

    private const int WarpsPerBlock = 8;

    private readonly CudaKernel _gemv = kernels.Kernel("linear", "linear_gemv");
    private readonly CudaKernel _tiled = kernels.Kernel("linear", "linear_tiled");
    private readonly CudaKernel _gemvFp8 = kernels.Kernel("linear_fp8", "linear_fp8_gemv");
    private readonly CudaKernel _tiledFp8 = kernels.Kernel("linear_fp8", "linear_fp8_tiled");

    /// <summary>Queues y = x · wᵀ for n rows; rows above 8 and up to gemvMaxRows go through gemv in runs of 8.</summary>
    public void Launch(CudaStream stream, ulong x, int n, DeviceWeight w, ulong y, int gemvMaxRows = GemvMaxTokens)
    {
        ArgumentNullException.ThrowIfNull(w);
        if (n <= 0)
        {
            return;
        }

        if (n > GemvMaxTokens && n > gemvMaxRows)
        {
            Tiled(stream, x, n, w, y);
            return;
        }

        for (int r0 = 0; r0 < n; r0 += GemvMaxTokens)
        {
            int rows = Math.Min(GemvMaxTokens, n - r0);
            Gemv(stream, x + ((ulong)r0 * (ulong)w.Cols * 4), rows, w, y + ((ulong)r0 * (ulong)w.Rows * 4));
        }
    }

    private void Gemv(CudaStream stream, ulong x, int n, DeviceWeight w, ulong y)
    {
        int blocks = (w.Rows + WarpsPerBlock - 1) / WarpsPerBlock;
        if (w.IsFp8)
        {
            _gemvFp8.Launch(stream, blocks, 32 * WarpsPerBlock, 0, x, w.Pointer, w.ScalesPointer, y, n, w.Rows, w.Cols, w.BlockRows, w.BlockCols);
        }
        else
        {
            _gemv.Launch(stream, blocks, 32 * WarpsPerBlock, 0, x, w.Pointer, y, n, w.Rows, w.Cols);
        }
    }

    private void Tiled(CudaStream stream, ulong x, int n, DeviceWeight w, ulong y)
    {
        var grid = new Dim3((uint)((w.Rows + 63) / 64), (uint)((n + 63) / 64), 1);
        if (w.IsFp8)
        {
            _tiledFp8.Launch(stream, grid, 256, 0, x, w.Pointer, w.ScalesPointer, y, n, w.Rows, w.Cols, w.BlockRows, w.BlockCols);
        }
        else
        {
            _tiled.Launch(stream, grid, 256, 0, x, w.Pointer, y, n, w.Rows, w.Cols);
        }
    }
}
