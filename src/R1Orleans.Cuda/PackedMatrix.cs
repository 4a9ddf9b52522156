namespace R1Orleans.Cuda;

/// <summary>
/// <see cref="Batches"/> matrices [Rows, Cols] packed for kernels/dense_mma.cu in moe_pack_tiles' tile order, each batch
/// after the previous: BF16 elements, or FP8 e4m3 codes with 128x128 block scales at <see cref="Scales"/>
/// ([ceil(Rows / 128), Cols / 128] floats). A fused pair (two FP8 weights over the same input, stacked by rows, like
/// vLLM's merged gate_up or fused q_a/kv_a projections) has <see cref="SplitRow"/> > 0: rows before it are the first
/// weight's outputs, the rest the second's. Owns its buffer and the scales it stacked, not a single weight's scales.
/// </summary>
public sealed class PackedMatrix(DeviceBuffer buffer, int batches, int rows, int cols, bool fp8, ulong scales, int splitRow = 0, DeviceBuffer? ownedScales = null) : IDisposable
{
    public DeviceBuffer Buffer { get; } = buffer;

    public int Batches { get; } = batches;

    public int Rows { get; } = rows;

    public int Cols { get; } = cols;

    public bool IsFp8 { get; } = fp8;

    /// <summary>The block scales (FP8 only; 0 for BF16).</summary>
    public ulong Scales { get; } = scales;

    /// <summary>For a fused pair, the first weight's row count; 0 for one matrix.</summary>
    public int SplitRow { get; } = splitRow;

    /// <summary>Bytes a pass reads: every element once (two bytes BF16, one FP8 plus its block scales).</summary>
    public long Bytes => IsFp8
        ? ((long)Rows * Cols) + (DeviceWeight.ScaleCount(Rows, Cols, 128, 128) * sizeof(float))
        : 2L * Batches * Rows * Cols;

    public void Dispose()
    {
        Buffer.Dispose();
        ownedScales?.Dispose();
    }
}
