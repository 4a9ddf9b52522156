using System.Text.Json;
using System.Text.Json.Nodes;
using R1Orleans.TestSupport;

namespace R1Orleans.Checkpoint.Tests;

public class ModelConfigParserTests
{
    private static string GoldenConfigText(string name) => File.ReadAllText(Path.Combine(GoldenDirectory.Case(name), "config.json"));

    [Fact]
    public void EveryGoldenModelCaseParses()
    {
        IReadOnlyList<string> cases = GoldenDirectory.ModelCaseNames;
        Assert.Superset(new HashSet<string> { "small-fp8-sharded-mtp", "tiny-bf16-yarn", "tiny-noqlora-ungrouped" }, cases.ToHashSet());
        foreach (string name in cases)
        {
            ModelConfig c = ModelConfigParser.Load(Path.Combine(GoldenDirectory.Case(name), "config.json"));
            Assert.Equal("deepseek_v3", c.ModelType);
        }
    }

    [Fact]
    public void TinyBf16YarnFields()
    {
        ModelConfig c = ModelConfigParser.Parse(GoldenConfigText("tiny-bf16-yarn"));
        Assert.Equal(512, c.VocabSize);
        Assert.Equal(64, c.HiddenSize);
        Assert.Equal(160, c.IntermediateSize);
        Assert.Equal(32, c.MoeIntermediateSize);
        Assert.Equal(4, c.NumHiddenLayers);
        Assert.Equal(4, c.NumAttentionHeads);
        Assert.Equal(1, c.NSharedExperts);
        Assert.Equal(16, c.NRoutedExperts);
        Assert.Equal(2.5, c.RoutedScalingFactor);
        Assert.Equal(32, c.KvLoraRank);
        Assert.Equal(48, c.QLoraRank);
        Assert.Equal(8, c.QkRopeHeadDim);
        Assert.Equal(16, c.VHeadDim);
        Assert.Equal(16, c.QkNopeHeadDim);
        Assert.Equal(24, c.QkHeadDim);
        Assert.Equal(40, c.LatentCacheDim);
        Assert.Equal(4, c.NGroup);
        Assert.Equal(2, c.TopkGroup);
        Assert.Equal(4, c.ExpertsPerGroup);
        Assert.Equal(4, c.NumExpertsPerTok);
        Assert.Equal(1, c.FirstKDenseReplace);
        Assert.Equal(1, c.MoeLayerFreq);
        Assert.Equal(1024, c.MaxPositionEmbeddings);
        Assert.Equal(1e-6, c.RmsNormEps);
        Assert.Equal(10000, c.RopeTheta);
        Assert.Equal("noaux_tc", c.TopkMethod);
        Assert.Equal("sigmoid", c.ScoringFunc);
        Assert.True(c.NormTopkProb);
        Assert.Equal(new YarnScaling(8, 128, 32, 1, 1.0, 1.0), c.RopeScaling);
        Assert.Equal(1, c.NumNextnPredictLayers);
        Assert.Null(c.Quantization);
        Assert.Equal(0, c.BosTokenId);
        Assert.Equal(1, c.EosTokenId);
        Assert.False(c.IsMoeLayer(0));
        Assert.True(c.IsMoeLayer(1));
        Assert.True(c.IsMoeLayer(3));
    }

    [Fact]
    public void SmallFp8ShardedMtpFields()
    {
        ModelConfig c = ModelConfigParser.Parse(GoldenConfigText("small-fp8-sharded-mtp"));
        Assert.Equal(1024, c.VocabSize);
        Assert.Equal(256, c.HiddenSize);
        Assert.Equal(384, c.IntermediateSize);
        Assert.Equal(160, c.MoeIntermediateSize);
        Assert.Equal(4, c.NumHiddenLayers);
        Assert.Equal(4, c.NumAttentionHeads);
        Assert.Equal(1, c.NSharedExperts);
        Assert.Equal(32, c.NRoutedExperts);
        Assert.Equal(2.5, c.RoutedScalingFactor);
        Assert.Equal(64, c.KvLoraRank);
        Assert.Equal(96, c.QLoraRank);
        Assert.Equal(16, c.QkRopeHeadDim);
        Assert.Equal(32, c.VHeadDim);
        Assert.Equal(32, c.QkNopeHeadDim);
        Assert.Equal(8, c.NGroup);
        Assert.Equal(4, c.TopkGroup);
        Assert.Equal(8, c.NumExpertsPerTok);
        Assert.Equal(2, c.FirstKDenseReplace);
        Assert.Equal(4096, c.MaxPositionEmbeddings);
        Assert.Equal(new YarnScaling(40, 100, 32, 1, 1.0, 1.0), c.RopeScaling);
        Assert.Equal(1, c.NumNextnPredictLayers);
        Assert.Equal(new Fp8Quantization("e4m3", 128, 128), c.Quantization);
        Assert.False(c.IsMoeLayer(1));
        Assert.True(c.IsMoeLayer(2));
    }

    [Fact]
    public void TinyNoQloraUngroupedFields()
    {
        ModelConfig c = ModelConfigParser.Parse(GoldenConfigText("tiny-noqlora-ungrouped"));
        Assert.Equal(384, c.VocabSize);
        Assert.Equal(96, c.HiddenSize);
        Assert.Equal(192, c.IntermediateSize);
        Assert.Equal(24, c.MoeIntermediateSize);
        Assert.Equal(3, c.NumHiddenLayers);
        Assert.Equal(6, c.NumAttentionHeads);
        Assert.Equal(2, c.NSharedExperts);
        Assert.Equal(24, c.NRoutedExperts);
        Assert.Equal(1.0, c.RoutedScalingFactor);
        Assert.Equal(24, c.KvLoraRank);
        Assert.Null(c.QLoraRank);
        Assert.Equal(8, c.QkRopeHeadDim);
        Assert.Equal(8, c.VHeadDim);
        Assert.Equal(12, c.QkNopeHeadDim);
        Assert.Equal(1, c.NGroup);
        Assert.Equal(1, c.TopkGroup);
        Assert.Equal(24, c.ExpertsPerGroup);
        Assert.Equal(6, c.NumExpertsPerTok);
        Assert.Equal(1, c.FirstKDenseReplace);
        Assert.Equal(512, c.MaxPositionEmbeddings);
        Assert.Null(c.RopeScaling);
        Assert.Null(c.Quantization);
    }

    public static TheoryData<string, string, string> Rejections => new()
    {
        // mutation (JSON merge into the tiny golden config), field named, text the message must contain
        { """{"model_type":"llama"}""", "model_type", "'llama'" },
        { """{"scoring_func":"softmax"}""", "scoring_func", "'softmax'" },
        { """{"topk_method":"greedy"}""", "topk_method", "'greedy'" },
        { """{"n_routed_experts":18}""", "n_group", "(18)" },
        { """{"topk_group":5}""", "topk_group", "5 is outside 1..n_group (4)" },
        { """{"num_experts_per_tok":17,"n_group":1,"topk_group":1}""", "num_experts_per_tok", "17 exceeds the 16 experts" },
        { """{"num_experts_per_tok":9}""", "num_experts_per_tok", "9 exceeds the 8 experts" },
        { """{"rope_scaling":{"type":"linear","factor":2.0}}""", "rope_scaling.type", "'linear'" },
        { """{"rope_scaling":{"rope_type":"dynamic","factor":2.0}}""", "rope_scaling.type", "'dynamic'" },
        { """{"rope_scaling":{"type":"yarn"}}""", "rope_scaling.factor", "missing" },
        { """{"quantization_config":{"quant_method":"fp8","fmt":"e4m3","weight_block_size":[64,64]}}""", "quantization_config.weight_block_size", "[64, 64]" },
        { """{"quantization_config":{"quant_method":"fp8","fmt":"e4m3","weight_block_size":[128,64]}}""", "quantization_config.weight_block_size", "[128, 64]" },
        { """{"quantization_config":{"quant_method":"fp8","fmt":"e4m3","weight_block_size":[128]}}""", "quantization_config.weight_block_size", "two positive integers" },
        { """{"quantization_config":{"quant_method":"awq"}}""", "quantization_config.quant_method", "'awq'" },
        { """{"quantization_config":{"quant_method":"fp8","fmt":"e5m2","weight_block_size":[128,128]}}""", "quantization_config.fmt", "'e5m2'" },
        { """{"hidden_size":null}""", "hidden_size", "Null" },
        { """{"hidden_size":"64"}""", "hidden_size", "String" },
        { """{"hidden_size":64.5}""", "hidden_size", "64.5" },
        { """{"hidden_size":-64}""", "hidden_size", "-64" },
        { """{"vocab_size":[512]}""", "vocab_size", "Array" },
        { """{"norm_topk_prob":"yes"}""", "norm_topk_prob", "String" },
        { """{"rms_norm_eps":"1e-6"}""", "rms_norm_eps", "\"1e-6\"" },
        { """{"rope_scaling":7}""", "rope_scaling", "Number" },
        { """{"model_type":3}""", "model_type", "Number" },
        { """{"hidden_act":"gelu"}""", "hidden_act", "'gelu'" },
        { """{"tie_word_embeddings":true}""", "tie_word_embeddings", "true" },
        { """{"num_nextn_predict_layers":2}""", "num_nextn_predict_layers", "2" },
        { """{"moe_layer_freq":2}""", "moe_layer_freq", "2" },
        { """{"qk_rope_head_dim":7}""", "qk_rope_head_dim", "7" },
        { """{"q_lora_rank":0}""", "q_lora_rank", "0" },
        { """{"eos_token_id":512}""", "eos_token_id", "512" },
        { """{"first_k_dense_replace":5}""", "first_k_dense_replace", "5" },
    };

    [Theory]
    [MemberData(nameof(Rejections))]
    public void RejectionNamesFieldAndValue(string merge, string field, string expected)
    {
        JsonObject config = JsonNode.Parse(GoldenConfigText("tiny-bf16-yarn"))!.AsObject();
        foreach ((string key, JsonNode? value) in JsonNode.Parse(merge)!.AsObject())
        {
            config[key] = value?.DeepClone();
        }

        ConfigException e = Assert.Throws<ConfigException>(() => ModelConfigParser.Parse(config.ToJsonString()));
        Assert.Equal(field, e.Field);
        Assert.Contains($"field '{field}'", e.Message, StringComparison.Ordinal);
        Assert.Contains(expected, e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("vocab_size")]
    [InlineData("hidden_size")]
    [InlineData("num_hidden_layers")]
    [InlineData("kv_lora_rank")]
    [InlineData("model_type")]
    [InlineData("max_position_embeddings")]
    public void MissingRequiredFieldIsNamed(string field)
    {
        JsonObject config = JsonNode.Parse(GoldenConfigText("tiny-bf16-yarn"))!.AsObject();
        Assert.True(config.Remove(field));
        ConfigException e = Assert.Throws<ConfigException>(() => ModelConfigParser.Parse(config.ToJsonString()));
        Assert.Equal(field, e.Field);
        Assert.Contains("missing", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("")]
    [InlineData("{")]
    [InlineData("[1, 2]")]
    [InlineData("\"deepseek_v3\"")]
    public void NotAJsonObjectIsRejected(string text)
    {
        ConfigException e = Assert.Throws<ConfigException>(() => ModelConfigParser.Parse(text));
        Assert.Equal("(file)", e.Field);
    }

    [Theory]
    [InlineData("{\"model_type\": \"\\ud800\"}")]
    [InlineData("{\"\\udc00\": 1, \"model_type\": \"deepseek_v3\"}")]
    public void InvalidUtf16EscapeIsAConfigException(string text)
    {
        Assert.Throws<ConfigException>(() => ModelConfigParser.Parse(text));
    }

    [Fact]
    public void GoldenConfigsRoundTripThroughWriter()
    {
        foreach (string name in GoldenDirectory.ModelCaseNames)
        {
            ModelConfig c = ModelConfigParser.Load(Path.Combine(GoldenDirectory.Case(name), "config.json"));
            string json = ModelConfigWriter.ToJson(c);
            Assert.Equal(c, ModelConfigParser.Parse(json));
            Assert.Equal(json, ModelConfigWriter.ToJson(ModelConfigParser.Parse(json)));
        }
    }

    [Fact]
    public void PresetsRoundTripThroughWriter()
    {
        foreach (ModelConfig c in new[] { SyntheticCheckpoint.TinyConfig(), SyntheticCheckpoint.MediumConfig(), TestFiles.Micro(fp8: true, mtp: true) })
        {
            Assert.Equal(c, ModelConfigParser.Parse(ModelConfigWriter.ToJson(c)));
        }
    }

    [Fact]
    public void WriterOmitsAbsentSectionsAndWritesNullQLora()
    {
        ModelConfig c = SyntheticCheckpoint.TinyConfig() with { QLoraRank = null, RopeScaling = null, Quantization = null, BosTokenId = null, EosTokenId = null, RmsNormEps = 1.234567890123e-7, RoutedScalingFactor = 1.0 / 3 };
        string json = ModelConfigWriter.ToJson(c);
        using JsonDocument doc = JsonDocument.Parse(json);
        JsonElement r = doc.RootElement;
        Assert.Equal(JsonValueKind.Null, r.GetProperty("q_lora_rank").ValueKind);
        Assert.False(r.TryGetProperty("rope_scaling", out _));
        Assert.False(r.TryGetProperty("quantization_config", out _));
        Assert.False(r.TryGetProperty("bos_token_id", out _));
        Assert.Equal("deepseek_v3", r.GetProperty("model_type").GetString());
        Assert.Equal(c, ModelConfigParser.Parse(json));

        ModelConfig withAll = SyntheticCheckpoint.MediumConfig();
        using JsonDocument doc2 = JsonDocument.Parse(ModelConfigWriter.ToJson(withAll));
        JsonElement q = doc2.RootElement.GetProperty("quantization_config");
        Assert.Equal("fp8", q.GetProperty("quant_method").GetString());
        Assert.Equal([128, 128], q.GetProperty("weight_block_size").EnumerateArray().Select(e => e.GetInt32()));
        Assert.Equal("yarn", doc2.RootElement.GetProperty("rope_scaling").GetProperty("type").GetString());
        Assert.Equal(384, doc2.RootElement.GetProperty("q_lora_rank").GetInt32());
    }

    [Fact]
    public void LoadRejectsOversizedFile()
    {
        using var dir = new TempDirectory();
        string path = dir.File("config.json");
        File.WriteAllText(path, "{" + new string(' ', (int)ModelConfigParser.MaxConfigBytes) + "}");
        ConfigException e = Assert.Throws<ConfigException>(() => ModelConfigParser.Load(path));
        Assert.Contains("cap", e.Message, StringComparison.Ordinal);
    }
}
