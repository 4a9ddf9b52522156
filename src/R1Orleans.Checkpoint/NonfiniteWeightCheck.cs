using System.Numerics.Tensors;

namespace R1Orleans.Checkpoint;

/// <summary>
/// Fails a weight read on the first NaN or ±Inf. The loader runs it on each chunk right after converting it, while the
/// chunk is still in cache: one vectorized pass (<see cref="TensorPrimitives.IsFiniteAll{T}(ReadOnlySpan{T})"/>), and a
/// scalar search only in a chunk that holds a bad value.
/// </summary>
internal static class NonfiniteWeightCheck
{
    /// <summary>Floats converted per chunk: 32 KiB, so a chunk is checked while it is still in L1.</summary>
    public const int ChunkElements = 8192;

    /// <summary>Throws if <paramref name="chunk"/>, elements [offset, offset + chunk.Length) of the tensor, holds a non-finite value.</summary>
    public static void ThrowIfAny(string file, TensorInfo info, ReadOnlySpan<float> chunk, long offset)
    {
        if (TensorPrimitives.IsFiniteAll(chunk))
        {
            return;
        }

        int i = 0;
        while (float.IsFinite(chunk[i]))
        {
            i++;
        }

        float v = chunk[i];
        string what = float.IsNaN(v) ? "NaN" : v > 0 ? "+Inf" : "-Inf";
        long index = offset + i;
        throw new CheckpointFormatException(
            file, info.Name,
            $"element {index} {Coordinates(index, info.Shape)} is {what} (after conversion to float32): the checkpoint holds a non-finite weight; "
            + "load with AllowNonfiniteWeights (silo --allow-nonfinite-weights) to accept it");
    }

    /// <summary>The flat index as [i, j, ...] in the tensor's shape.</summary>
    internal static string Coordinates(long index, long[] shape)
    {
        if (shape.Length == 0)
        {
            return "[]";
        }

        var at = new long[shape.Length];
        for (int d = shape.Length - 1; d >= 0; d--)
        {
            at[d] = shape[d] == 0 ? 0 : index % shape[d];
            index = shape[d] == 0 ? 0 : index / shape[d];
        }

        return "[" + string.Join(", ", at) + "]";
    }
}
