using System.Security.Cryptography;
using System.Text.Json;
using System.Text.Json.Nodes;
using R1Orleans.Checkpoint;
using R1Orleans.TestSupport;

namespace R1Orleans.BuiltInModel.Tests;

public sealed class GeneratorTests(BuiltInModelFixture model) : IClassFixture<BuiltInModelFixture>
{
    [Fact]
    public void Two_generations_write_byte_identical_files()
    {
        string other = Directory.CreateTempSubdirectory("r1-builtin-again-").FullName;
        try
        {
            BuiltInModel.Generate(other);
            Dictionary<string, string> first = Hashes(model.ModelDirectory);
            Dictionary<string, string> second = Hashes(other);
            Assert.Equal(first.Keys.Order(StringComparer.Ordinal), second.Keys.Order(StringComparer.Ordinal));
            foreach ((string name, string hash) in first)
            {
                Assert.True(hash == second[name], $"{name} differs between two generations");
            }

            Assert.Contains("config.json", first.Keys);
            Assert.Contains("model.safetensors.index.json", first.Keys);
            Assert.Contains("tokenizer.json", first.Keys);
            Assert.Contains("tokenizer_config.json", first.Keys);
            Assert.Contains("generation_config.json", first.Keys);
            Assert.Contains("README.md", first.Keys);
            Assert.Contains(BuiltInModel.MarkerFileName, first.Keys);
        }
        finally
        {
            Directory.Delete(other, recursive: true);
        }
    }

    [Fact]
    public void EnsureCreated_reuses_a_complete_model_and_regenerates_a_damaged_one()
    {
        string cache = Directory.CreateTempSubdirectory("r1-builtin-reuse-").FullName;
        try
        {
            string dir = BuiltInModel.EnsureCreated(cache);
            Assert.Equal(Path.Combine(cache, BuiltInModel.FolderName), dir);
            string marker = Path.Combine(dir, BuiltInModel.MarkerFileName);
            DateTime written = File.GetLastWriteTimeUtc(marker);
            Assert.Equal(dir, BuiltInModel.EnsureCreated(cache));
            Assert.Equal(written, File.GetLastWriteTimeUtc(marker));

            // A damaged file is noticed (size and SHA-256 in the marker) and the model is written again.
            File.AppendAllText(Path.Combine(dir, "tokenizer.json"), " ");
            Assert.False(BuiltInModel.IsComplete(dir));
            Assert.Equal(dir, BuiltInModel.EnsureCreated(cache));
            Assert.True(BuiltInModel.IsComplete(dir));

            // A marker from another generator version is not reused.
            string text = File.ReadAllText(marker).Replace($"\"generator_version\": {BuiltInModel.GeneratorVersion}", "\"generator_version\": 0", StringComparison.Ordinal);
            File.WriteAllText(marker, text);
            Assert.False(BuiltInModel.IsComplete(dir));

            // Nothing temporary is left behind.
            Assert.Equal([BuiltInModel.FolderName], Directory.EnumerateFileSystemEntries(cache).Select(Path.GetFileName));
        }
        finally
        {
            Directory.Delete(cache, recursive: true);
        }
    }

    [Fact]
    public void Config_has_mtp_fp8_yarn_and_a_vocabulary_covering_the_tokenizer()
    {
        ModelConfig config = ModelConfigParser.Load(Path.Combine(model.ModelDirectory, "config.json"));
        Assert.Equal(1, config.NumNextnPredictLayers);
        Assert.NotNull(config.Quantization);
        Assert.Equal(4096, config.MaxPositionEmbeddings);
        Assert.NotNull(config.RopeScaling);
        Assert.Equal(0, config.VocabSize % 128);
        Assert.Equal(0, config.BosTokenId);
        Assert.Equal(1, config.EosTokenId);

        using var reader = CheckpointReader.Open(model.ModelDirectory);
        Assert.True(reader.HasMtp);
        Assert.Contains(reader.TensorNames, n => n.EndsWith("weight_scale_inv", StringComparison.Ordinal));
        Assert.Equal(2, reader.Files.Count);

        var tokenizer = Text.Tokenization.R1Tokenizer.Load(Path.Combine(model.ModelDirectory, "tokenizer.json"));
        Assert.InRange(tokenizer.VocabSize, 1000, 2000);
        Assert.Equal((tokenizer.VocabSize + 127) / 128 * 128, config.VocabSize);
    }

    [Fact]
    public void Tokenizer_json_has_deepseek_v3s_pre_tokenizer_decoder_and_post_processor()
    {
        JsonNode ours = JsonNode.Parse(File.ReadAllText(Path.Combine(model.ModelDirectory, "tokenizer.json")))!;
        JsonNode golden = JsonNode.Parse(File.ReadAllText(Path.Combine(GoldenDirectory.Case("tokenizer-bpe"), "tokenizer.json")))!;
        foreach (string part in new[] { "pre_tokenizer", "decoder", "post_processor", "normalizer" })
        {
            Assert.True(JsonNode.DeepEquals(golden[part], ours[part]), $"{part} differs from DeepSeek's: {ours[part]?.ToJsonString()}");
        }

        Assert.Equal("BPE", (string?)ours["model"]!["type"]);
        JsonObject vocab = ours["model"]!["vocab"]!.AsObject();
        Assert.Equal(vocab.Count, ours["model"]!["merges"]!.AsArray().Count + 259);

        // The byte alphabet sits at ids 3..258 in GPT-2 order, as in DeepSeek's tokenizers.
        JsonObject goldenVocab = golden["model"]!["vocab"]!.AsObject();
        foreach ((string token, JsonNode? id) in goldenVocab.Where(kv => (int)kv.Value! < 259))
        {
            Assert.Equal((int)id!, (int)vocab[token]!);
        }

        string[] added = ours["added_tokens"]!.AsArray().Select(t => (string)t!["content"]!).ToArray();
        foreach (string token in new[] { "<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>", "<｜▁pad▁｜>", "<｜User｜>", "<｜Assistant｜>", "<think>", "</think>", "<｜tool▁calls▁begin｜>", "<｜tool▁sep｜>" })
        {
            Assert.Contains(token, added);
        }
    }

    [Fact]
    public void Model_card_says_the_weights_are_random()
    {
        string card = File.ReadAllText(Path.Combine(model.ModelDirectory, "README.md"));
        Assert.Contains("random", card, StringComparison.Ordinal);
        Assert.Contains("noise", card, StringComparison.Ordinal);
        using JsonDocument generation = JsonDocument.Parse(File.ReadAllText(Path.Combine(model.ModelDirectory, "generation_config.json")));
        Assert.Equal(1, generation.RootElement.GetProperty("eos_token_id").GetInt32());
    }

    private static Dictionary<string, string> Hashes(string directory) =>
        Directory.EnumerateFiles(directory).ToDictionary(
            f => Path.GetFileName(f),
            f => Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(f))),
            StringComparer.Ordinal);
}
