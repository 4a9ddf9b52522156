namespace R1Orleans.Checkpoint.Tests;

/// <summary>A holder of a few experts reads only their bytes: opening reads headers only, and reads are counted exactly.</summary>
public class LazyLoadingTests
{
    private static readonly string[] ExpertParts = ["gate_proj", "up_proj", "down_proj"];

    [Theory]
    [InlineData(false, 1)]
    [InlineData(true, 1)]
    [InlineData(true, 3)]
    public void ReadingOneExpertReadsOnlyItsBytes(bool fp8, int shards)
    {
        using var dir = new TempDirectory();
        ModelConfig config = fp8 ? TestFiles.TinyFp8() : SyntheticCheckpoint.TinyConfig();
        SyntheticCheckpoint.Write(dir.Path, config, new SyntheticCheckpointOptions(Seed: 5, Shards: shards));
        using CheckpointReader reader = CheckpointReader.Open(dir.Path);
        Assert.Equal(0, reader.BytesRead);

        const int layer = 2, expert = 3;
        long expected = 0;
        foreach (string part in ExpertParts)
        {
            string name = TensorNames.Expert(layer, expert, part);
            TensorInfo info = reader.Info(name);
            Assert.Equal(fp8 ? DType.F8_E4M3 : DType.BF16, info.DType);
            expected += info.ByteLength;
            if (fp8)
            {
                expected += reader.Info(TensorNames.ScaleOf(name)).ByteLength;
            }

            float[] w = reader.ReadWeight(name);
            Assert.Equal(info.ElementCount, w.Length);
            Assert.All(w, v => Assert.True(float.IsFinite(v)));
        }

        Assert.Equal(expected, reader.BytesRead);
        long perExpertDense = 3L * config.MoeIntermediateSize * config.HiddenSize * (fp8 ? 1 : 2);
        Assert.InRange(expected, perExpertDense, perExpertDense + 64);
        Assert.True(reader.BytesRead * 40 < reader.TotalTensorBytes, $"{reader.BytesRead} of {reader.TotalTensorBytes} bytes read");
    }

    [Fact]
    public void OpeningReadsNoTensorData()
    {
        using var dir = new TempDirectory();
        SyntheticCheckpoint.Write(dir.Path, TestFiles.TinyFp8(), new SyntheticCheckpointOptions(Shards: 2));
        using CheckpointReader reader = CheckpointReader.Open(dir.Path);
        Assert.Equal(0, reader.BytesRead);
        Assert.True(reader.TotalTensorBytes > 1_000_000);
        _ = reader.Info(TensorNames.Expert(1, 0, "up_proj"));
        Assert.Equal(0, reader.BytesRead);
        float[] bias = reader.ReadWeight(TensorNames.GateBias(1));
        Assert.Equal(16 * 4, reader.BytesRead);
        Assert.Equal(16, bias.Length);
    }
}
