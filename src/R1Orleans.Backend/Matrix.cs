namespace R1Orleans.Backend;

/// <summary>A linear layer's weight [Rows = out features, Cols = in features], row-major float32, as checkpoints store it.</summary>
public sealed class Matrix
{
    public Matrix(int rows, int cols, float[] data)
    {
        if ((long)rows * cols != data.Length)
        {
            throw new ArgumentException($"matrix [{rows}, {cols}] needs {(long)rows * cols} values, got {data.Length}");
        }

        Rows = rows;
        Cols = cols;
        Data = data;
    }

    public int Rows { get; }

    public int Cols { get; }

    public float[] Data { get; }

    public ReadOnlySpan<float> Row(int r) => Data.AsSpan(r * Cols, Cols);

    public long ByteSize => (long)Data.Length * sizeof(float);

    /// <summary>The sub-matrix of rows [start, start + count).</summary>
    public Matrix SliceRows(int start, int count) => new(count, Cols, Data.AsSpan(start * Cols, count * Cols).ToArray());

    public Matrix Transpose()
    {
        var t = new float[Data.Length];
        for (int r = 0; r < Rows; r++)
        {
            for (int c = 0; c < Cols; c++)
            {
                t[(c * Rows) + r] = Data[(r * Cols) + c];
            }
        }

        return new Matrix(Cols, Rows, t);
    }
}
