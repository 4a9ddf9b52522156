namespace R1Orleans.Cuda;

/// <summary>
/// <see cref="Batches"/> BF16 matrices [Rows, Cols] packed for kernels/linear_bf16.cu (moe_pack_tiles' tile order, each
/// batch after the previous). Owns its buffer.
/// </summary>
public sealed class PackedBf16(DeviceBuffer buffer, int batches, int rows, int cols) : IDisposable
{
    public DeviceBuffer Buffer { get; } = buffer;

    public int Batches { get; } = batches;

    public int Rows { get; } = rows;

    public int Cols { get; } = cols;

    /// <summary>Bytes a step reads: every element once, two bytes each.</summary>
    public long Bytes => 2L * Batches * Rows * Cols;

    public void Dispose() => Buffer.Dispose();
}
