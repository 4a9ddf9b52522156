namespace R1Orleans.Checkpoint;

/// <summary>The FP8 reads: dequantized to float32 (<see cref="ReadWeight"/>) or kept as codes and scales (<see cref="ReadFp8Weight"/>).</summary>
public sealed partial class CheckpointReader
{
    /// <summary>True when <paramref name="name"/> is stored as F8_E4M3 (with a weight_scale_inv beside it).</summary>
    public bool IsFp8(string name) => Info(name).DType == DType.F8_E4M3;

    /// <summary>
    /// Reads an F8_E4M3 weight as its codes and block scales, without keeping a float32 copy. The non-finite check is
    /// the one <see cref="ReadWeight"/> makes: each row is dequantized into a scratch row (the same expression) and
    /// checked, so a checkpoint that fails one read fails the other with the same message.
    /// </summary>
    public Fp8Weight ReadFp8Weight(string name)
    {
        if (!_owner.TryGetValue(name, out SafetensorsFile? file))
        {
            throw new CheckpointFormatException(Directory, name, "not in this checkpoint");
        }

        TensorInfo info = file.Get(name);
        if (info.DType != DType.F8_E4M3)
        {
            throw new CheckpointFormatException(file.Path, name, $"dtype {info.DType.Name()} is not F8_E4M3");
        }

        if (info.ElementCount > Array.MaxLength)
        {
            throw new CheckpointFormatException(file.Path, name, $"{info.ElementCount} elements do not fit one array");
        }

        ReadOnlySpan<byte> bytes = file.Bytes(info);
        Interlocked.Add(ref _bytesRead, bytes.Length);
        (Fp8Quantization q, float[] scale) = ReadScales(file, info);
        int rows = (int)info.Shape[0];
        int cols = (int)info.Shape[1];
        byte[] codes = bytes.ToArray();
        if (!Options.AllowNonfiniteWeights)
        {
            var row = new float[cols];
            for (int r = 0; r < rows; r++)
            {
                Fp8BlockDequantizer.DequantizeRow(codes.AsSpan(r * cols, cols), Fp8BlockDequantizer.RowScales(scale, r, cols, q), q.BlockCols, row);
                NonfiniteWeightCheck.ThrowIfAny(file.Path, info, row, (long)r * cols);
            }
        }

        return new Fp8Weight(rows, cols, codes, scale, q.BlockRows, q.BlockCols);
    }

    /// <summary>Dequantizes an FP8 weight row by row (decode and scale in one pass), checking each row as it is produced.</summary>
    private void ReadFp8(SafetensorsFile file, TensorInfo info, ReadOnlySpan<byte> codes, float[] dst)
    {
        (Fp8Quantization q, float[] scale) = ReadScales(file, info);
        int rows = (int)info.Shape[0];
        int cols = (int)info.Shape[1];
        for (int r = 0; r < rows; r++)
        {
            Span<float> row = dst.AsSpan(r * cols, cols);
            Fp8BlockDequantizer.DequantizeRow(codes.Slice(r * cols, cols), Fp8BlockDequantizer.RowScales(scale, r, cols, q), q.BlockCols, row);
            if (!Options.AllowNonfiniteWeights)
            {
                NonfiniteWeightCheck.ThrowIfAny(file.Path, info, row, (long)r * cols);
            }
        }
    }

    /// <summary>The quantization and the block scales of an FP8 tensor, both checked against its shape.</summary>
    private (Fp8Quantization Q, float[] Scale) ReadScales(SafetensorsFile file, TensorInfo info)
    {
        // The schema check at open guarantees this for the model's tensors; other tensors are checked here.
        if (Config.Quantization is not Fp8Quantization q || info.Shape.Length != 2)
        {
            throw new CheckpointFormatException(file.Path, info.Name, $"F8_E4M3 tensor of shape {info.ShapeText} needs a 2-D shape and an fp8 quantization_config");
        }

        string scaleName = Checkpoint.TensorNames.ScaleOf(info.Name);
        float[] scale = ReadWeight(scaleName);
        int rows = (int)info.Shape[0];
        int cols = (int)info.Shape[1];
        long expected = (long)((rows + q.BlockRows - 1) / q.BlockRows) * ((cols + q.BlockCols - 1) / q.BlockCols);
        if (scale.Length != expected)
        {
            throw new CheckpointFormatException(file.Path, scaleName, $"has {scale.Length} block scales, {info.Name} of shape {info.ShapeText} needs {expected}");
        }

        return (q, scale);
    }
}
