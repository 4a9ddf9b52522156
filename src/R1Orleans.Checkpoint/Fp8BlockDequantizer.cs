namespace R1Orleans.Checkpoint;

/// <summary>
/// DeepSeek's block FP8: w = q x scale_inv[i / 128, j / 128]. The last block row/column may be partial when the
/// weight's sides are not multiples of the block size.
/// </summary>
public static class Fp8BlockDequantizer
{
    public static long[] ScaleShape(long rows, long cols, Fp8Quantization q) =>
        [(rows + q.BlockRows - 1) / q.BlockRows, (cols + q.BlockCols - 1) / q.BlockCols];

    /// <summary>Decodes the F8_E4M3 codes of a [rows, cols] weight and multiplies each by its block's scale.</summary>
    public static void Dequantize(ReadOnlySpan<byte> codes, int rows, int cols, ReadOnlySpan<float> scale, Fp8Quantization q, Span<float> dst)
    {
        ArgumentNullException.ThrowIfNull(q);
        for (int r = 0; r < rows; r++)
        {
            DequantizeRow(codes.Slice(r * cols, cols), RowScales(scale, r, cols, q), q.BlockCols, dst.Slice(r * cols, cols));
        }
    }

    /// <summary>The block scales that row <paramref name="row"/> of a [rows, cols] weight uses, one per block of columns.</summary>
    public static ReadOnlySpan<float> RowScales(ReadOnlySpan<float> scale, int row, int cols, Fp8Quantization q)
    {
        ArgumentNullException.ThrowIfNull(q);
        int scaleCols = (cols + q.BlockCols - 1) / q.BlockCols;
        return scale.Slice(row / q.BlockRows * scaleCols, scaleCols);
    }

    /// <summary>One row in one pass: dst[j] = fp8(codes[j]) x scales[j / blockCols].</summary>
    public static void DequantizeRow(ReadOnlySpan<byte> codes, ReadOnlySpan<float> scales, int blockCols, Span<float> dst)
    {
        ReadOnlySpan<float> table = ElementConversion.Fp8E4M3Table;
        for (int b = 0, start = 0; start < dst.Length; b++, start += blockCols)
        {
            int end = Math.Min(start + blockCols, dst.Length);
            float s = scales[b];
            for (int j = start; j < end; j++)
            {
                dst[j] = table[codes[j]] * s;
            }
        }
    }
}
