using R1Orleans.Backend;

namespace R1Orleans.Cuda;

/// <summary>
/// A linear layer's weight [Rows, Cols] in device memory: float32 as it is, or FP8 e4m3 codes followed (256-byte
/// aligned) by their block scales [ceil(Rows / BlockRows), ceil(Cols / BlockCols)], which linear_fp8.cu dequantizes in
/// registers. It owns its buffer.
/// </summary>
public sealed class DeviceWeight : IDisposable
{
    public DeviceWeight(DeviceBuffer buffer, int rows, int cols, bool isFp8, int blockRows = 0, int blockCols = 0)
    {
        if (isFp8 && (blockRows <= 0 || blockCols <= 0))
        {
            throw new ArgumentException($"an FP8 weight [{rows}, {cols}] needs positive scale blocks, got {blockRows}x{blockCols}");
        }

        long need = isFp8 ? ScaleOffsetOf(rows, cols) + (ScaleCount(rows, cols, blockRows, blockCols) * sizeof(float)) : (long)rows * cols * sizeof(float);
        if (buffer.Bytes < need)
        {
            throw new ArgumentException($"weight [{rows}, {cols}]{(isFp8 ? " FP8" : string.Empty)} needs {need} bytes; the buffer holds {buffer.Bytes}");
        }

        Buffer = buffer;
        Rows = rows;
        Cols = cols;
        IsFp8 = isFp8;
        BlockRows = blockRows;
        BlockCols = blockCols;
    }

    public DeviceBuffer Buffer { get; }

    public int Rows { get; }

    public int Cols { get; }

    public bool IsFp8 { get; }

    public int BlockRows { get; }

    public int BlockCols { get; }

    /// <summary>The codes (FP8) or the floats.</summary>
    public ulong Pointer => Buffer.Pointer;

    /// <summary>The block scales (FP8 only).</summary>
    public ulong ScalesPointer => Buffer.Pointer + (ulong)ScaleOffsetOf(Rows, Cols);

    /// <summary>Bytes a step reads: codes and scales, or the floats.</summary>
    public long Bytes => IsFp8 ? ((long)Rows * Cols) + (ScaleCount(Rows, Cols, BlockRows, BlockCols) * sizeof(float)) : (long)Rows * Cols * sizeof(float);

    /// <summary>Where the scales start after the codes: 256-byte aligned.</summary>
    public static long ScaleOffsetOf(int rows, int cols) => (((long)rows * cols) + 255) & ~255L;

    public static long ScaleCount(int rows, int cols, int blockRows, int blockCols) =>
        (long)((rows + blockRows - 1) / blockRows) * ((cols + blockCols - 1) / blockCols);

    /// <summary>Allocates and queues the upload of <paramref name="w"/> as it is held (FP8 stays FP8).</summary>
    public static DeviceWeight Upload(CudaContext context, Matrix w, CudaStream stream)
    {
        ArgumentNullException.ThrowIfNull(w);
        if (w.IsFp8)
        {
            long bytes = ScaleOffsetOf(w.Rows, w.Cols) + ((long)w.Scales.Length * sizeof(float));
            DeviceBuffer b = context.Allocate(Math.Max(4, bytes));
            b.UploadAsync<byte>(w.Codes, stream);
            b.UploadAsync<float>(w.Scales, stream, ScaleOffsetOf(w.Rows, w.Cols));
            return new DeviceWeight(b, w.Rows, w.Cols, true, w.BlockRows, w.BlockCols);
        }

        DeviceBuffer f = context.Allocate(Math.Max(4, w.ByteSize));
        f.UploadAsync<float>(w.Data, stream);
        return new DeviceWeight(f, w.Rows, w.Cols, false);
    }

    public void Dispose() => Buffer.Dispose();
}
