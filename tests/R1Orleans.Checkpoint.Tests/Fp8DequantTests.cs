namespace R1Orleans.Checkpoint.Tests;

public class Fp8DequantTests
{
    private static readonly Fp8Quantization Blocks = new("e4m3", 128, 128);

    /// <summary>A config whose dense MLP gate_proj (layer 0) is [200, 130]: partial blocks in both directions.</summary>
    private static ModelConfig PartialBlockConfig() => TestFiles.Micro(fp8: true) with { HiddenSize = 130, IntermediateSize = 200 };

    [Fact]
    public void ScaleShapeCountsPartialBlocks()
    {
        Assert.Equal([2L, 2L], Fp8BlockDequantizer.ScaleShape(200, 130, Blocks));
        Assert.Equal([1L, 1L], Fp8BlockDequantizer.ScaleShape(128, 128, Blocks));
        Assert.Equal([2L, 1L], Fp8BlockDequantizer.ScaleShape(129, 1, Blocks));
        Assert.Equal([56L, 144L], Fp8BlockDequantizer.ScaleShape(7168, 18432, Blocks));
    }

    [Fact]
    public void DistinctBlockScalesApplyToTheirBlocksThroughTheReader()
    {
        using var dir = new TempDirectory();
        string synth = dir.Sub("synthetic");
        string target = dir.Sub("edited");
        SyntheticCheckpoint.Write(synth, PartialBlockConfig(), new SyntheticCheckpointOptions(Seed: 3));

        string name = TensorNames.Mlp(0, "gate_proj");
        const int rows = 200, cols = 130;
        byte[] codes = new byte[rows * cols];
        for (int r = 0; r < rows; r++)
        {
            for (int c = 0; c < cols; c++)
            {
                byte code = (byte)((r * 131) + (c * 7));
                codes[(r * cols) + c] = code is 0x7F or 0xFF ? (byte)0x38 : code;
            }
        }

        float[] scale = [0.5f, 2f, 4f, 0.125f];
        TestFiles.Rewrite(synth, target, (t, bytes) => t.Name switch
        {
            _ when t.Name == name => SafetensorsTensor.FromBytes(name, DType.F8_E4M3, [rows, cols], codes),
            _ when t.Name == TensorNames.ScaleOf(name) => SafetensorsTensor.FromFloats(t.Name, DType.F32, [2, 2], scale),
            _ => TestFiles.Keep(t, bytes),
        });

        using CheckpointReader reader = CheckpointReader.Open(target);
        Assert.Equal([2L, 2L], reader.Info(TensorNames.ScaleOf(name)).Shape);
        float[] w = reader.ReadWeight(name);
        Assert.Equal(rows * cols, w.Length);
        for (int r = 0; r < rows; r++)
        {
            for (int c = 0; c < cols; c++)
            {
                float expected = ElementConversion.Fp8E4M3ToFloat(codes[(r * cols) + c]) * scale[((r / 128) * 2) + (c / 128)];
                Assert.Equal(expected, w[(r * cols) + c]);
            }
        }

        // The corner elements of each of the four blocks carry that block's scale.
        Assert.Equal(ElementConversion.Fp8E4M3ToFloat(codes[0]) * 0.5f, w[0]);
        Assert.Equal(ElementConversion.Fp8E4M3ToFloat(codes[129]) * 2f, w[129]);
        Assert.Equal(ElementConversion.Fp8E4M3ToFloat(codes[128 * cols]) * 4f, w[128 * cols]);
        Assert.Equal(ElementConversion.Fp8E4M3ToFloat(codes[(199 * cols) + 129]) * 0.125f, w[(199 * cols) + 129]);
        Assert.Equal((long)rows * cols + (4 * 4), reader.BytesRead);
    }

    [Fact]
    public void SyntheticFp8WeightsFollowTheBlockConvention()
    {
        using var dir = new TempDirectory();
        ModelConfig config = PartialBlockConfig();
        SyntheticCheckpoint.Write(dir.Path, config, new SyntheticCheckpointOptions(Seed: 11));
        using CheckpointReader reader = CheckpointReader.Open(dir.Path);
        using SafetensorsFile raw = SafetensorsFile.Open(dir.File(CheckpointReader.SingleFileName));

        int checkedWeights = 0;
        foreach (ExpectedTensor e in CheckpointSchema.Main(config).Where(e => e.Role == TensorRole.Linear))
        {
            TensorInfo info = reader.Info(e.Name);
            Assert.Equal(DType.F8_E4M3, info.DType);
            int rows = (int)info.Shape[0], cols = (int)info.Shape[1];
            long[] scaleShape = Fp8BlockDequantizer.ScaleShape(rows, cols, Blocks);
            Assert.Equal(scaleShape, reader.Info(TensorNames.ScaleOf(e.Name)).Shape);
            Assert.Equal(DType.F32, reader.Info(TensorNames.ScaleOf(e.Name)).DType);

            float[] scale = reader.ReadWeight(TensorNames.ScaleOf(e.Name));
            float[] w = reader.ReadWeight(e.Name);
            ReadOnlySpan<byte> codes = raw.Bytes(raw.Get(e.Name));
            var blockMax = new float[scale.Length];
            for (int r = 0; r < rows; r++)
            {
                for (int c = 0; c < cols; c++)
                {
                    int block = ((r / 128) * (int)scaleShape[1]) + (c / 128);
                    float q = ElementConversion.Fp8E4M3ToFloat(codes[(r * cols) + c]);
                    Assert.Equal(q * scale[block], w[(r * cols) + c]);
                    blockMax[block] = MathF.Max(blockMax[block], MathF.Abs(q));
                }
            }

            // scale_inv = block max / 448, so each block's largest code is ±448.
            Assert.All(blockMax, m => Assert.Equal(448f, m));
            Assert.All(scale, s => Assert.True(s > 0 && float.IsFinite(s)));
            checkedWeights++;
        }

        Assert.True(checkedWeights > 10);
    }

    [Fact]
    public void QuantizerMatchesReferenceEncoderAndBoundsError()
    {
        var rng = new Random(17);
        const int rows = 200, cols = 130;
        float[] w = new float[rows * cols];
        for (int i = 0; i < w.Length; i++)
        {
            // Magnitudes spanning the normal and subnormal FP8 ranges after scaling, with exact ties sprinkled in.
            w[i] = (float)((rng.NextDouble() - 0.5) * Math.Pow(2, rng.Next(-14, 9)));
            if (i % 17 == 0)
            {
                w[i] = (1f + (((2 * rng.Next(0, 8)) + 1) / 16f)) * MathF.Pow(2, rng.Next(-6, 8)) * (i % 2 == 0 ? 1 : -1);
            }
        }

        // Pin every block's max to exactly 448 so scale_inv is exactly 1 and codes can be compared with the reference encoder.
        w[0] = 448f;
        w[128] = -448f;
        w[128 * cols] = 448f;
        w[(128 * cols) + 128] = 448f;

        byte[] codes = new byte[w.Length];
        float[] scale = new float[4];
        SafetensorsWriter.QuantizeFp8Blocks(w, rows, cols, Blocks, codes, scale);
        Assert.Equal([1f, 1f, 1f, 1f], scale);
        for (int i = 0; i < w.Length; i++)
        {
            Assert.Equal(ElementEncoding.FloatToFp8E4M3(w[i]), codes[i]);
        }

        // With arbitrary blocks, dequantized values are within half an FP8 step of the originals.
        for (int i = 0; i < w.Length; i++)
        {
            w[i] = (float)(rng.NextDouble() - 0.5) * (1 + (i % 7));
        }

        SafetensorsWriter.QuantizeFp8Blocks(w, rows, cols, Blocks, codes, scale);
        float[] back = new float[w.Length];
        Fp8BlockDequantizer.Dequantize(codes, rows, cols, scale, Blocks, back);
        for (int r = 0; r < rows; r++)
        {
            for (int c = 0; c < cols; c++)
            {
                float s = scale[((r / 128) * 2) + (c / 128)];
                float orig = w[(r * cols) + c];
                float tolerance = MathF.Max(MathF.Abs(orig) / 16f, s / 1024f) * 1.0001f;
                Assert.True(MathF.Abs(back[(r * cols) + c] - orig) <= tolerance, $"[{r},{c}] {orig} -> {back[(r * cols) + c]} (scale {s})");
            }
        }
    }

    [Fact]
    public void AllZeroBlockGetsUnitScale()
    {
        float[] w = new float[130 * 2];
        w[129] = 1f;
        byte[] codes = new byte[w.Length];
        float[] scale = new float[2];
        SafetensorsWriter.QuantizeFp8Blocks(w, 2, 130, Blocks, codes, scale);
        Assert.Equal(1f, scale[0]);
        Assert.Equal(1f / 448f, scale[1]);
        Assert.Equal(0x7E, codes[129]);
    }
}
