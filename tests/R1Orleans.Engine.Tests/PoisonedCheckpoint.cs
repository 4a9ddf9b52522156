using R1Orleans.Checkpoint;

namespace R1Orleans.TestSupport;

/// <summary>
/// Writes a tiny random-weight checkpoint whose embedding row of one token is NaN: a sequence holding that token gets
/// NaN hidden states and NaN logits, while every other sequence computes as usual (rows depend on their own sequence only).
/// </summary>
internal static class PoisonedCheckpoint
{
    public static string Write(int poisonedToken)
    {
        string directory = Directory.CreateTempSubdirectory("r1-poisoned-model-").FullName;
        SyntheticCheckpoint.Write(directory, SyntheticCheckpoint.TinyConfig() with { NumNextnPredictLayers = 1 }, new SyntheticCheckpointOptions(Seed: 3));
        PoisonEmbeddingRow(directory, poisonedToken);
        return directory;
    }

    /// <summary>Overwrites row <paramref name="token"/> of the BF16 embedding in model.safetensors with NaN.</summary>
    public static void PoisonEmbeddingRow(string directory, int token)
    {
        string file = Path.Combine(directory, CheckpointReader.SingleFileName);
        using FileStream fs = File.Open(file, FileMode.Open, FileAccess.ReadWrite);
        byte[] first8 = new byte[8];
        fs.ReadExactly(first8);
        int headerLength = SafetensorsHeader.ReadHeaderLength(file, first8, fs.Length);
        byte[] json = new byte[headerLength];
        fs.ReadExactly(json);
        TensorInfo embedding = SafetensorsHeader.Parse(file, json, fs.Length - 8 - headerLength).Single(t => t.Name == TensorNames.Embedding);
        Assert.Equal(DType.BF16, embedding.DType);
        long hidden = embedding.Shape[1];
        fs.Position = 8 + headerLength + embedding.Begin + (token * hidden * 2);
        byte[] nan = [0xC0, 0x7F]; // BF16 quiet NaN, little-endian
        for (long i = 0; i < hidden; i++)
        {
            fs.Write(nan);
        }
    }
}
