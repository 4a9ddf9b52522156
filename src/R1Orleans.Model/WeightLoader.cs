using R1Orleans.Backend;
using R1Orleans.Checkpoint;

namespace R1Orleans.Model;

/// <summary>
/// Reads named tensors from a checkpoint into backend weights. An F8_E4M3 linear weight stays FP8 (codes + 128×128
/// block scales, a quarter of float32's bytes) unless <paramref name="keepFp8"/> is false; everything else is float32.
/// </summary>
public sealed class WeightLoader(CheckpointReader reader, bool keepFp8 = true)
{
    public CheckpointReader Reader { get; } = reader;

    /// <summary>True when FP8 weights are kept as codes and scales (false: dequantized to float32 at load, as before).</summary>
    public bool KeepFp8 { get; } = keepFp8;

    private long _residentBytes;

    /// <summary>
    /// Bytes of the weights this loader has handed out (<see cref="Backend.Matrix.ByteSize"/> of every matrix, 4 per
    /// float of every vector) plus what callers derived from them at load (<see cref="AddDerived"/>).
    /// </summary>
    public long ResidentBytes => Interlocked.Read(ref _residentBytes);

    /// <summary>Counts a weight built at load from loaded ones (MLA's absorbed per-head copies) in <see cref="ResidentBytes"/>.</summary>
    public Matrix AddDerived(Matrix m)
    {
        ArgumentNullException.ThrowIfNull(m);
        Interlocked.Add(ref _residentBytes, m.ByteSize);
        return m;
    }

    public Matrix Matrix(string name)
    {
        TensorInfo info = Reader.Info(name);
        if (info.Shape.Length != 2)
        {
            throw new CheckpointFormatException(Reader.Directory, name, $"expected a matrix, got shape {info.ShapeText}");
        }

        if (KeepFp8 && info.DType == DType.F8_E4M3)
        {
            Fp8Weight f = Reader.ReadFp8Weight(name);
            return AddDerived(Backend.Matrix.Fp8(f.Rows, f.Cols, f.Codes, f.Scales, f.BlockRows, f.BlockCols));
        }

        return AddDerived(new Matrix((int)info.Shape[0], (int)info.Shape[1], Reader.ReadWeight(name)));
    }

    public float[] Vector(string name)
    {
        float[] v = Reader.ReadWeight(name);
        Interlocked.Add(ref _residentBytes, (long)v.Length * sizeof(float));
        return v;
    }

    /// <summary>The tensor if the checkpoint has it, else the fallback's (MTP's optional embedding and head copies).</summary>
    public Matrix MatrixOr(string name, Func<Matrix> fallback) => Reader.Contains(name) ? Matrix(name) : fallback();
}
