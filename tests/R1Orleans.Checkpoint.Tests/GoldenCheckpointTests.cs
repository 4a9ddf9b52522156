using System.Text.Json;
using R1Orleans.TestSupport;

namespace R1Orleans.Checkpoint.Tests;

public class GoldenCheckpointTests
{
    public static TheoryData<string> ModelCases => new(GoldenDirectory.ModelCaseNames);

    private static JsonElement GoldenJson(string dir)
    {
        using JsonDocument doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, "golden.json")));
        return doc.RootElement.Clone();
    }

    [Fact]
    public void GoldenDirectoryIsFound()
    {
        Assert.True(Directory.Exists(GoldenDirectory.Root), GoldenDirectory.Root);
        Assert.True(GoldenDirectory.ModelCaseNames.Count >= 3, string.Join(", ", GoldenDirectory.ModelCaseNames));
        Assert.Throws<DirectoryNotFoundException>(() => GoldenDirectory.Case("no-such-case"));
    }

    [Theory]
    [MemberData(nameof(ModelCases))]
    public void OpensAndMatchesGoldenJson(string name)
    {
        string dir = GoldenDirectory.Case(name);
        JsonElement golden = GoldenJson(dir);
        using CheckpointReader reader = CheckpointReader.Open(dir);
        ModelConfig c = reader.Config;

        Assert.Equal(golden.GetProperty("mtp").GetBoolean(), reader.HasMtp);
        Assert.Equal(golden.GetProperty("fp8").GetBoolean(), c.Quantization is not null);
        Assert.Equal(golden.GetProperty("shards").GetInt32(), reader.Files.Count);

        // A known weight: the first layer's kv_a_proj_with_mqa, [kv_lora_rank + qk_rope_head_dim, hidden].
        string kvA = TensorNames.Attn(0, "kv_a_proj_with_mqa");
        float[] w = reader.ReadWeight(kvA);
        Assert.Equal((c.KvLoraRank + c.QkRopeHeadDim) * c.HiddenSize, w.Length);
        Assert.All(w, v => Assert.True(float.IsFinite(v)));
        Assert.Contains(w, v => v != 0);
        Assert.Equal(c.Quantization is null ? DType.BF16 : DType.F8_E4M3, reader.Info(kvA).DType);

        float[] embed = reader.ReadWeight(TensorNames.Embedding);
        Assert.Equal(c.VocabSize * c.HiddenSize, embed.Length);

        int moeLayer = c.FirstKDenseReplace;
        Assert.Equal(DType.F32, reader.Info(TensorNames.GateBias(moeLayer)).DType);
        float[] expert = reader.ReadWeight(TensorNames.Expert(moeLayer, c.NRoutedExperts - 1, "down_proj"));
        Assert.Equal(c.HiddenSize * c.MoeIntermediateSize, expert.Length);

        if (c.QLoraRank is null)
        {
            Assert.True(reader.Contains(TensorNames.Attn(0, "q_proj")));
            Assert.False(reader.Contains(TensorNames.Attn(0, "q_a_proj")));
        }
    }

    [Fact]
    public void ShardedFp8MtpCase()
    {
        string dir = GoldenDirectory.Case("small-fp8-sharded-mtp");
        using CheckpointReader reader = CheckpointReader.Open(dir);
        Assert.True(reader.HasMtp);

        // total_size in the index is the sum of the tensors' byte lengths, scales included.
        using (JsonDocument index = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir, ShardIndex.FileName))))
        {
            Assert.Equal(index.RootElement.GetProperty("metadata").GetProperty("total_size").GetInt64(), reader.TotalTensorBytes);
        }

        // An expert of the first MoE layer: [160, 256] FP8 with a [2, 2] scale (a partial block row).
        string name = TensorNames.Expert(2, 0, "up_proj");
        Assert.Equal([2L, 2L], reader.Info(TensorNames.ScaleOf(name)).Shape);
        float[] w = reader.ReadWeight(name);
        Assert.Equal(160 * 256, w.Length);
        Assert.Equal((160 * 256) + (2 * 2 * 4), reader.BytesRead);

        // The MTP layer (index 4) with its embedding and head copies.
        float[] eh = reader.ReadWeight(TensorNames.Mtp(4, "eh_proj.weight"));
        Assert.Equal(256 * 512, eh.Length);
        Assert.True(reader.Contains(TensorNames.Mtp(4, "embed_tokens.weight")));
        Assert.True(reader.Contains(TensorNames.Mtp(4, "shared_head.head.weight")));
        Assert.Equal(1024 * 256, reader.ReadWeight(TensorNames.Mtp(4, "shared_head.head.weight")).Length);
    }

    [Fact]
    public void ConfigAsksForMtpButTinyCheckpointHasNone()
    {
        using CheckpointReader reader = CheckpointReader.Open(GoldenDirectory.Case("tiny-bf16-yarn"));
        Assert.Equal(1, reader.Config.NumNextnPredictLayers);
        Assert.False(reader.HasMtp);
        Assert.DoesNotContain(reader.TensorNames, n => n.StartsWith("model.layers.4.", StringComparison.Ordinal));
    }
}
