using R1Orleans.Backend;
using R1Orleans.Checkpoint;

namespace R1Orleans.Model;

/// <summary>Reads named tensors from a checkpoint into backend weights (float32, FP8 dequantized).</summary>
public sealed class WeightLoader(CheckpointReader reader)
{
    public CheckpointReader Reader { get; } = reader;

    public Matrix Matrix(string name)
    {
        TensorInfo info = Reader.Info(name);
        if (info.Shape.Length != 2)
        {
            throw new CheckpointFormatException(Reader.Directory, name, $"expected a matrix, got shape {info.ShapeText}");
        }

        return new Matrix((int)info.Shape[0], (int)info.Shape[1], Reader.ReadWeight(name));
    }

    public float[] Vector(string name) => Reader.ReadWeight(name);

    /// <summary>The tensor if the checkpoint has it, else the fallback's (MTP's optional embedding and head copies).</summary>
    public Matrix MatrixOr(string name, Func<Matrix> fallback) => Reader.Contains(name) ? Matrix(name) : fallback();
}
