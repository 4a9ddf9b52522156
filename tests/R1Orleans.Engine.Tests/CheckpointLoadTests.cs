using System.Buffers.Binary;
using R1Orleans.Backend;
using R1Orleans.Checkpoint;
using R1Orleans.Engine.Api;
using R1Orleans.Engine.Sampling;
using R1Orleans.Engine.Scheduling;
using R1Orleans.TestSupport;

namespace R1Orleans.Engine.Tests;

/// <summary>
/// How the serving load path treats checkpoints that are readable but not servable as asked: non-finite weights, and a
/// config that promises an MTP layer whose weights are absent. Each is a load error of a type the silo prints without a
/// stack trace (CheckpointFormatException or ConfigException), or, where the request does not need what is missing, a
/// successful load.
/// </summary>
public sealed class CheckpointLoadTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("r1-load-").FullName;

    public void Dispose() => Directory.Delete(_root, true);

    private static InferenceEngineOptions Speculative(bool mtp) => new() { KvCacheTokens = 512, Scheduler = new SchedulerConfig { SpeculativeMtp = mtp } };

    /// <summary>A tiny chat checkpoint (tokenizer included), optionally written without any MTP tensors while config.json says num_nextn_predict_layers 1.</summary>
    private string ChatModel(string name, bool mtpConfig, bool mtpWeights)
    {
        string dir = Path.Combine(_root, name);
        ModelConfig config = SyntheticCheckpoint.TinyConfig() with { VocabSize = 4096, NumNextnPredictLayers = mtpConfig ? 1 : 0 };
        SyntheticCheckpoint.Write(dir, config with { NumNextnPredictLayers = mtpWeights ? 1 : 0 }, new SyntheticCheckpointOptions(Seed: 6));
        ModelConfigWriter.Write(Path.Combine(dir, "config.json"), config);
        string tok = GoldenDirectory.Case("tokenizer-bpe");
        File.Copy(Path.Combine(tok, "tokenizer.json"), Path.Combine(dir, "tokenizer.json"));
        File.Copy(Path.Combine(tok, "tokenizer_config.json"), Path.Combine(dir, "tokenizer_config.json"));
        return dir;
    }

    private static void PoisonBf16(string dir, string tensor, long index)
    {
        string file = Path.Combine(dir, CheckpointReader.SingleFileName);
        long offset;
        using (SafetensorsFile f = SafetensorsFile.Open(file))
        {
            byte[] prefix = new byte[8];
            using (FileStream s = File.OpenRead(file))
            {
                s.ReadExactly(prefix);
            }

            offset = 8 + (long)BinaryPrimitives.ReadUInt64LittleEndian(prefix) + f.Get(tensor).Begin + (2 * index);
        }

        using FileStream w = File.Open(file, FileMode.Open, FileAccess.Write);
        w.Position = offset;
        w.Write([0xC0, 0x7F]); // BF16 NaN
    }

    private static async Task<int> GenerateTokens(InferenceEngine engine, int n)
    {
        TextEvent? last = null;
        await foreach (TextEvent e in engine.GenerateAsync(PromptInput.FromTokens([0, 5, 9]), SamplingParams.Greedy(n) with { IgnoreEos = true }))
        {
            last = e;
        }

        Assert.Equal(FinishReason.Length, last!.Finish);
        return last.Usage.CompletionTokens;
    }

    [Fact]
    public void Nonfinite_weight_fails_the_load_by_default_naming_the_tensor()
    {
        string dir = ChatModel("nan", mtpConfig: false, mtpWeights: false);
        string victim = TensorNames.Attn(2, "kv_a_layernorm");
        PoisonBf16(dir, victim, 7);

        CheckpointFormatException e = Assert.Throws<CheckpointFormatException>(() => LoadedModel.Load(dir, new CpuBackend(1)).Dispose());
        Assert.Equal(victim, e.Tensor);
        Assert.Contains("element 7 [7] is NaN", e.Message, StringComparison.Ordinal);
        CheckpointFormatException viaEngine = Assert.Throws<CheckpointFormatException>(() => InferenceEngine.Load(dir, Speculative(false)));
        Assert.Equal(victim, viaEngine.Tensor);
    }

    [Fact]
    public async Task AllowNonfiniteWeights_loads_the_checkpoint_anyway()
    {
        string dir = ChatModel("nan-allowed", mtpConfig: false, mtpWeights: false);
        string victim = TensorNames.Attn(2, "kv_a_layernorm");
        PoisonBf16(dir, victim, 7);

        using (LoadedModel model = LoadedModel.Load(dir, new CpuBackend(1), new ModelLoadOptions { AllowNonfiniteWeights = true }))
        {
            Assert.True(model.Reader.Options.AllowNonfiniteWeights);
        }

        await using InferenceEngine engine = InferenceEngine.Load(dir, Speculative(false) with { AllowNonfiniteWeights = true });
        Assert.Equal(4096, engine.Config.VocabSize);
    }

    [Fact]
    public void Speculative_mtp_without_the_mtp_weights_is_a_checkpoint_error_naming_a_missing_tensor()
    {
        string dir = ChatModel("no-mtp-weights", mtpConfig: true, mtpWeights: false);

        CheckpointFormatException e = Assert.Throws<CheckpointFormatException>(() => InferenceEngine.Load(dir, Speculative(true)));
        Assert.NotNull(e.Tensor);
        Assert.StartsWith(TensorNames.Layer(4), e.Tensor, StringComparison.Ordinal); // TinyConfig has 4 layers: the MTP layer is 4
        Assert.Contains("MTP layer", e.Problem, StringComparison.Ordinal);
        Assert.Contains("--speculative-mtp", e.Problem, StringComparison.Ordinal);
        Assert.Contains("num_nextn_predict_layers 0", e.Problem, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Without_speculative_mtp_a_checkpoint_lacking_the_mtp_weights_loads_and_serves()
    {
        string dir = ChatModel("no-mtp-plain", mtpConfig: true, mtpWeights: false);

        await using InferenceEngine engine = InferenceEngine.Load(dir, Speculative(false));
        Assert.Equal(1, engine.Config.NumNextnPredictLayers);
        Assert.False(engine.HasMtpLayer);
        Assert.DoesNotContain(4, engine.MoeLayers);
        Assert.Equal(6, await GenerateTokens(engine, 6));
    }

    [Fact]
    public void Speculative_mtp_on_a_config_without_an_mtp_layer_is_a_config_error()
    {
        string dir = ChatModel("no-mtp-config", mtpConfig: false, mtpWeights: false);

        ConfigException e = Assert.Throws<ConfigException>(() => InferenceEngine.Load(dir, Speculative(true)));
        Assert.Equal("num_nextn_predict_layers", e.Field);
        Assert.Contains("--speculative-mtp", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Speculative_mtp_with_the_mtp_weights_loads_the_layer_and_serves()
    {
        string dir = ChatModel("mtp", mtpConfig: true, mtpWeights: true);

        await using InferenceEngine engine = InferenceEngine.Load(dir, Speculative(true));
        Assert.True(engine.HasMtpLayer);
        Assert.Contains(4, engine.MoeLayers);
        Assert.Equal(6, await GenerateTokens(engine, 6));
    }

    [Fact]
    public void A_partial_mtp_layer_is_rejected_naming_the_missing_tensor_as_an_mtp_one()
    {
        string dir = ChatModel("partial-mtp", mtpConfig: true, mtpWeights: true);
        string file = Path.Combine(dir, CheckpointReader.SingleFileName);
        string victim = TensorNames.Mtp(4, "enorm.weight");
        var kept = new List<SafetensorsTensor>();
        using (SafetensorsFile f = SafetensorsFile.Open(file))
        {
            foreach (TensorInfo t in f.Tensors.OrderBy(t => t.Begin).Where(t => t.Name != victim))
            {
                kept.Add(SafetensorsTensor.FromBytes(t.Name, t.DType, t.Shape, f.Bytes(t).ToArray()));
            }
        }

        SafetensorsWriter.Write(file, kept);
        CheckpointFormatException e = Assert.Throws<CheckpointFormatException>(() => InferenceEngine.Load(dir, Speculative(false)));
        Assert.Equal(victim, e.Tensor);
        Assert.Contains("MTP layer", e.Problem, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("tokenizer.json", "fifo")]
    [InlineData("tokenizer.json", "dev-zero")]
    [InlineData("tokenizer_config.json", "fifo")]
    [InlineData("tokenizer_config.json", "dev-zero")]
    [InlineData("generation_config.json", "fifo")]
    [InlineData("generation_config.json", "dev-zero")]
    [InlineData("chat_template.jinja", "fifo")]
    [InlineData("tokenizer.json", "directory")]
    public void A_checkpoint_side_file_that_is_not_regular_is_rejected_before_it_is_opened(string name, string kind)
    {
        string dir = ChatModel("special-" + kind, mtpConfig: false, mtpWeights: false);
        string path = Path.Combine(dir, name);
        File.Delete(path);
        if (kind == "fifo")
        {
            SpecialFiles.MakeFifo(path);
        }
        else if (kind == "dev-zero")
        {
            File.CreateSymbolicLink(path, "/dev/zero");
        }
        else
        {
            Directory.CreateDirectory(path);
        }

        CheckpointFormatException e = Assert.IsType<CheckpointFormatException>(
            SpecialFiles.RunBounded(() => InferenceEngine.Load(dir, Speculative(false)).DisposeAsync().AsTask().GetAwaiter().GetResult(), path));
        Assert.Equal(path, e.File);
        Assert.Contains("not a regular file", e.Problem, StringComparison.Ordinal);
    }
}
