namespace R1Orleans.Backend;

/// <summary>
/// A linear layer's weight [Rows = out features, Cols = in features], row-major, as checkpoints store it: either float32
/// (<see cref="Data"/>) or FP8 e4m3 codes with DeepSeek's block scales (<see cref="Fp8"/>: w[r, c] = e4m3(code) ×
/// scale[r / BlockRows, c / BlockCols], one float32 multiply), which keeps a quarter of the bytes resident. An FP8
/// matrix dequantizes to exactly the floats the checkpoint reader's load-time dequantization gives.
/// </summary>
public sealed class Matrix
{
    private readonly float[]? _data;
    private readonly byte[]? _codes;
    private readonly float[]? _scales;

    public Matrix(int rows, int cols, float[] data)
    {
        ArgumentNullException.ThrowIfNull(data);
        if ((long)rows * cols != data.Length)
        {
            throw new ArgumentException($"matrix [{rows}, {cols}] needs {(long)rows * cols} values, got {data.Length}");
        }

        Rows = rows;
        Cols = cols;
        _data = data;
    }

    private Matrix(int rows, int cols, byte[] codes, float[] scales, int blockRows, int blockCols)
    {
        Rows = rows;
        Cols = cols;
        _codes = codes;
        _scales = scales;
        BlockRows = blockRows;
        BlockCols = blockCols;
    }

    public int Rows { get; }

    public int Cols { get; }

    /// <summary>True when the matrix holds FP8 codes and block scales rather than float32 values.</summary>
    public bool IsFp8 => _codes is not null;

    /// <summary>The float32 values (float32 form only: an FP8 matrix throws; dequantize it with <see cref="ToFloat32"/>).</summary>
    public float[] Data => _data ?? throw new InvalidOperationException($"matrix [{Rows}, {Cols}] is FP8: read it through Codes/Scales or ToFloat32()");

    /// <summary>The e4m3 codes [Rows, Cols] row-major (FP8 form only).</summary>
    public byte[] Codes => _codes ?? throw new InvalidOperationException($"matrix [{Rows}, {Cols}] is float32, not FP8");

    /// <summary>The block scales [ceil(Rows / BlockRows), ceil(Cols / BlockCols)] row-major (FP8 form only).</summary>
    public float[] Scales => _scales ?? throw new InvalidOperationException($"matrix [{Rows}, {Cols}] is float32, not FP8");

    /// <summary>Rows per scale block (0 for a float32 matrix).</summary>
    public int BlockRows { get; }

    /// <summary>Columns per scale block (0 for a float32 matrix).</summary>
    public int BlockCols { get; }

    /// <summary>Scale blocks per row of blocks: ceil(Cols / BlockCols) (0 for a float32 matrix).</summary>
    public int ScaleCols => BlockCols == 0 ? 0 : (Cols + BlockCols - 1) / BlockCols;

    /// <summary>The bytes the matrix really holds: 4 per value, or 1 per code plus 4 per block scale.</summary>
    public long ByteSize => _data is not null ? (long)_data.Length * sizeof(float) : _codes!.LongLength + ((long)_scales!.Length * sizeof(float));

    /// <summary>
    /// An FP8 e4m3 matrix: <paramref name="codes"/> [rows, cols] and <paramref name="blockScales"/>
    /// [ceil(rows / blockRows), ceil(cols / blockCols)] (DeepSeek's weight_scale_inv; the last blocks may be partial).
    /// The arrays are kept, not copied.
    /// </summary>
    public static Matrix Fp8(int rows, int cols, byte[] codes, float[] blockScales, int blockRows, int blockCols)
    {
        ArgumentNullException.ThrowIfNull(codes);
        ArgumentNullException.ThrowIfNull(blockScales);
        ArgumentOutOfRangeException.ThrowIfNegative(rows);
        ArgumentOutOfRangeException.ThrowIfNegative(cols);
        ArgumentOutOfRangeException.ThrowIfLessThan(blockRows, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(blockCols, 1);
        if ((long)rows * cols != codes.LongLength)
        {
            throw new ArgumentException($"FP8 matrix [{rows}, {cols}] needs {(long)rows * cols} codes, got {codes.LongLength}");
        }

        long scaleRows = ((long)rows + blockRows - 1) / blockRows;
        long scaleCols = ((long)cols + blockCols - 1) / blockCols;
        if (scaleRows * scaleCols != blockScales.LongLength)
        {
            throw new ArgumentException($"FP8 matrix [{rows}, {cols}] in {blockRows}x{blockCols} blocks needs [{scaleRows}, {scaleCols}] scales, got {blockScales.LongLength}");
        }

        return new Matrix(rows, cols, codes, blockScales, blockRows, blockCols);
    }

    /// <summary>Row r as float32 (float32 form only; <see cref="CopyRow"/> works on both forms).</summary>
    public ReadOnlySpan<float> Row(int r) => Data.AsSpan(r * Cols, Cols);

    /// <summary>Row r into dst (Cols floats), dequantized if the matrix is FP8.</summary>
    public void CopyRow(int r, Span<float> dst) => DequantizeRows(r, 1, dst);

    /// <summary>Rows [start, start + count) as float32 into dst (count × Cols floats), dequantized if the matrix is FP8.</summary>
    public void DequantizeRows(int start, int count, Span<float> dst)
    {
        if ((uint)start > (uint)Rows || (uint)count > (uint)(Rows - start))
        {
            throw new ArgumentOutOfRangeException(nameof(count), $"rows [{start}, {start + count}) of a matrix of {Rows} rows");
        }

        if (dst.Length < (long)count * Cols)
        {
            throw new ArgumentException($"destination holds {dst.Length} floats, {count} rows of {Cols} need {(long)count * Cols}", nameof(dst));
        }

        if (_data is not null)
        {
            _data.AsSpan(start * Cols, count * Cols).CopyTo(dst);
            return;
        }

        for (int r = 0; r < count; r++)
        {
            Fp8Dequantize.Row(this, start + r, dst.Slice(r * Cols, Cols));
        }
    }

    /// <summary>The float32 form: this matrix if it is float32, else a new dequantized copy.</summary>
    public Matrix ToFloat32()
    {
        if (_data is not null)
        {
            return this;
        }

        var data = new float[(long)Rows * Cols];
        DequantizeRows(0, Rows, data);
        return new Matrix(Rows, Cols, data);
    }

    /// <summary>The sub-matrix of rows [start, start + count) (float32 form only).</summary>
    public Matrix SliceRows(int start, int count) => new(count, Cols, Data.AsSpan(start * Cols, count * Cols).ToArray());

    /// <summary>The transpose [Cols, Rows] (float32 form only).</summary>
    public Matrix Transpose()
    {
        float[] data = Data;
        var t = new float[data.Length];
        for (int r = 0; r < Rows; r++)
        {
            for (int c = 0; c < Cols; c++)
            {
                t[(c * Rows) + r] = data[(r * Cols) + c];
            }
        }

        return new Matrix(Cols, Rows, t);
    }
}
