using R1Orleans.Checkpoint;
using R1Orleans.Grains;
using R1Orleans.Silo;

namespace R1Orleans.BuiltInModel.Tests;

public sealed class SiloUnitTests
{
    [Fact]
    public void Model_options_validation_names_the_setting_and_the_switch()
    {
        var validator = new ModelOptionsValidator();
        Assert.True(validator.Validate(null, new ModelOptions()).Succeeded);
        Assert.True(validator.Validate(null, new ModelOptions { Path = ModelOptions.RandomBuiltIn }).Succeeded);

        string missing = Path.Combine(Path.GetTempPath(), $"r1-missing-{Guid.NewGuid():N}");
        var result = validator.Validate(null, new ModelOptions { Path = missing, KvCacheTokens = 0, MaxNumSeqs = 0, Threads = 0 });
        Assert.True(result.Failed);
        string[] failures = [.. result.Failures!];
        Assert.Contains(failures, f => f.Contains("--model", StringComparison.Ordinal) && f.Contains("does not exist", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.StartsWith("Model:KvCacheTokens (--kv-cache-tokens) is 0", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.StartsWith("Model:MaxNumSeqs", StringComparison.Ordinal));
        Assert.Contains(failures, f => f.StartsWith("Model:Threads", StringComparison.Ordinal));

        string empty = Directory.CreateTempSubdirectory("r1-empty-").FullName;
        try
        {
            string[] problems = [.. ModelOptionsValidator.CheckpointProblems(empty)];
            Assert.Contains(problems, p => p.Contains("no config.json", StringComparison.Ordinal));
            Assert.Contains(problems, p => p.Contains("no tokenizer.json", StringComparison.Ordinal));
            Assert.Contains(problems, p => p.Contains("model.safetensors", StringComparison.Ordinal));
        }
        finally
        {
            Directory.Delete(empty);
        }
    }

    [Fact]
    public void Without_a_model_the_shipped_trained_checkpoint_is_served_and_builtin_random_selects_the_generator()
    {
        var shipped = new ModelOptions();
        Assert.True(shipped.IsShipped);
        Assert.False(shipped.IsBuiltIn);
        Assert.Equal(ModelOptions.ShippedModelDirectory, shipped.CheckpointDirectory);
        Assert.Equal(Path.Combine(AppContext.BaseDirectory, "models", "r1orleans-tiny"), shipped.CheckpointDirectory);
        Assert.Empty(ModelOptionsValidator.CheckpointProblems(shipped.CheckpointDirectory!));
        Assert.True(File.Exists(Path.Combine(shipped.CheckpointDirectory!, "model.safetensors.index.json")));

        var random = new ModelOptions { Path = ModelOptions.RandomBuiltIn };
        Assert.True(random.IsBuiltIn);
        Assert.False(random.IsShipped);
        Assert.Null(random.CheckpointDirectory);
    }

    [Fact]
    public void Load_plan_assigns_every_tensor_to_the_stage_that_reads_it()
    {
        ModelConfig c = BuiltInModel.Config();
        Assert.Equal("routed experts", LoadPlan.StageOf(c, "model.layers.1.mlp.experts.3.up_proj.weight"));
        Assert.Equal("routed experts", LoadPlan.StageOf(c, "model.layers.4.mlp.experts.0.down_proj.weight_scale_inv"));
        Assert.Equal("layer 0", LoadPlan.StageOf(c, "model.layers.0.mlp.gate_proj.weight"));
        Assert.Equal("layer 2", LoadPlan.StageOf(c, "model.layers.2.mlp.shared_experts.up_proj.weight"));
        Assert.Equal("mtp", LoadPlan.StageOf(c, "model.layers.4.eh_proj.weight"));
        Assert.Equal("embedding", LoadPlan.StageOf(c, "model.embed_tokens.weight"));
        Assert.Equal("head", LoadPlan.StageOf(c, "lm_head.weight"));
        Assert.Equal("head", LoadPlan.StageOf(c, "model.norm.weight"));

        var tensors = new[]
        {
            new TensorInfo("model.embed_tokens.weight", DType.BF16, [10, 4], 0, 80),
            new TensorInfo("model.layers.1.mlp.experts.0.up_proj.weight", DType.F8_E4M3, [4, 4], 80, 96),
            new TensorInfo("model.layers.1.mlp.experts.0.up_proj.weight_scale_inv", DType.F32, [1, 1], 96, 100),
        };
        LoadPlan plan = LoadPlan.FromTensors(c, tensors);
        Assert.Equal(100, plan.TotalBytes);
        Assert.Equal(3, plan.TotalTensors);
        Assert.Equal((20L, 2, 16L), plan.Stage("routed experts"));

        var tracker = new LoadTracker(plan);
        tracker.OnStage("tokenizer");
        tracker.OnStage("routed experts");
        tracker.OnStage("embedding");
        Assert.True(tracker.Snapshot().Bytes >= 20);
        tracker.Finish();
        LoadSnapshot done = tracker.Snapshot();
        Assert.Equal((100L, 3), (done.Bytes, done.Tensors));
        Assert.Equal(1.0, done.Fraction);
    }

    [Fact]
    public void Model_registry_keeps_one_record_per_model_and_silo()
    {
        var registry = new ModelRegistry();
        var summary = new ModelConfigSummary(4, 128, 16, 4, 1280, 4096, true, true);
        var a = new ServedModelRecord("m", "silo-a", "/a", true, summary, DateTimeOffset.UnixEpoch.AddSeconds(2), 1);
        var b = new ServedModelRecord("m", "silo-b", "/b", true, summary, DateTimeOffset.UnixEpoch.AddSeconds(1), 1);
        registry.Register(a);
        registry.Register(b);
        registry.Register(a with { LoadSeconds = 3 });
        Assert.Equal(2, registry.Count);
        Assert.Equal(["silo-b", "silo-a"], registry.Find("m").Select(r => r.Silo));
        Assert.Equal(3, registry.List()[0].LoadSeconds);
        Assert.True(registry.Unregister("m", "silo-a"));
        Assert.False(registry.Unregister("m", "silo-a"));
        Assert.Equal(1, registry.RemoveSilo("silo-b"));
        Assert.Empty(registry.List());
    }

    [Fact]
    public void Command_line_flags_and_addresses_are_normalized()
    {
        Assert.Equal(["--speculative-mtp=true"], SiloHost.NormalizeFlags(["--speculative-mtp"]));
        Assert.Equal(["--speculative-mtp=true", "--threads", "2"], SiloHost.NormalizeFlags(["--speculative-mtp", "--threads", "2"]));
        Assert.Equal(["--speculative-mtp", "false"], SiloHost.NormalizeFlags(["--speculative-mtp", "false"]));
        Assert.Equal("http://127.0.0.1:8000", LoadConsole.ClientUrl("http://0.0.0.0:8000"));
        Assert.Equal("http://127.0.0.1:5000", LoadConsole.ClientUrl("http://+:5000"));
        Assert.Equal("http://localhost:8000", LoadConsole.ClientUrl("http://localhost:8000/"));
    }
}
