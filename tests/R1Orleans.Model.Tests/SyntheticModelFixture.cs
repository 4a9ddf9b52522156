using R1Orleans.Backend;
using R1Orleans.Checkpoint;
using R1Orleans.Engine;

namespace R1Orleans.Model.Tests;

/// <summary>
/// Two small random-weight checkpoints written once for the model tests and loaded with every routed expert in process:
/// "grouped" (q LoRA, YaRN, 4 groups with topk_group 2, one shared expert) and "ungrouped" (q_proj, no rope scaling,
/// n_group 1, two shared experts).
/// </summary>
public sealed class SyntheticModelFixture : IDisposable
{
    private readonly TempDirectory _dir = new();

    public SyntheticModelFixture()
    {
        Grouped = Write("grouped", GroupedConfig(), seed: 11);
        Ungrouped = Write("ungrouped", UngroupedConfig(), seed: 12);
    }

    public LoadedModel Grouped { get; }

    public LoadedModel Ungrouped { get; }

    public LoadedModel this[string name] => name switch
    {
        "grouped" => Grouped,
        "ungrouped" => Ungrouped,
        _ => throw new ArgumentOutOfRangeException(nameof(name), name, "no such synthetic model"),
    };

    public static ModelConfig GroupedConfig() => TestConfigs.Small() with
    {
        NumHiddenLayers = 3,
        NRoutedExperts = 8,
        NumExpertsPerTok = 3,
        NGroup = 4,
        TopkGroup = 2,
        NumAttentionHeads = 3,
        RopeScaling = new YarnScaling(Factor: 8, OriginalMaxPositionEmbeddings: 32, BetaFast: 32, BetaSlow: 1, Mscale: 1, MscaleAllDim: 1),
    };

    public static ModelConfig UngroupedConfig() => TestConfigs.Small() with
    {
        NumHiddenLayers = 2,
        NRoutedExperts = 6,
        NSharedExperts = 2,
        NumExpertsPerTok = 2,
        NGroup = 1,
        TopkGroup = 1,
        QLoraRank = null,
        RopeScaling = null,
    };

    public void Dispose()
    {
        Grouped.Dispose();
        Ungrouped.Dispose();
        _dir.Dispose();
    }

    private LoadedModel Write(string name, ModelConfig config, int seed)
    {
        string path = Path.Combine(_dir.Path, name);
        SyntheticCheckpoint.Write(path, config, new SyntheticCheckpointOptions(Seed: seed));
        return LoadedModel.Load(path, new CpuBackend(threads: 2));
    }
}

[CollectionDefinition(Name)]
public sealed class SyntheticModelCollection : ICollectionFixture<SyntheticModelFixture>
{
    public const string Name = "synthetic model";
}
