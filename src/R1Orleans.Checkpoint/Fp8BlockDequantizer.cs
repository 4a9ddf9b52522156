namespace R1Orleans.Checkpoint;

/// <summary>
/// DeepSeek's block FP8: w = q x scale_inv[i / 128, j / 128]. The last block row/column may be partial when the
/// weight's sides are not multiples of the block size.
/// </summary>
public static class Fp8BlockDequantizer
{
    public static long[] ScaleShape(long rows, long cols, Fp8Quantization q) =>
        [(rows + q.BlockRows - 1) / q.BlockRows, (cols + q.BlockCols - 1) / q.BlockCols];

    /// <summary>Multiplies already-decoded FP8 values [rows, cols] in place by their block's scale.</summary>
    public static void ApplyScales(Span<float> w, int rows, int cols, ReadOnlySpan<float> scale, Fp8Quantization q)
    {
        int scaleCols = (cols + q.BlockCols - 1) / q.BlockCols;
        for (int r = 0; r < rows; r++)
        {
            Span<float> row = w.Slice(r * cols, cols);
            ReadOnlySpan<float> scaleRow = scale.Slice(r / q.BlockRows * scaleCols, scaleCols);
            for (int b = 0; b < scaleCols; b++)
            {
                int start = b * q.BlockCols;
                int len = Math.Min(q.BlockCols, cols - start);
                System.Numerics.Tensors.TensorPrimitives.Multiply(row.Slice(start, len), scaleRow[b], row.Slice(start, len));
            }
        }
    }
}
