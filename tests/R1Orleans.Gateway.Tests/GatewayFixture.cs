using R1Orleans.Checkpoint;
using R1Orleans.Engine.Api;
using R1Orleans.Engine.Scheduling;
using R1Orleans.TestSupport;

namespace R1Orleans.Gateway.Tests;

/// <summary>
/// One tiny random-weight checkpoint with the golden R1 tokenizer and chat template, one engine over it, and a gateway
/// serving that engine on loopback. Shared by the whole "Gateway" collection, whose tests run one at a time (some of them
/// check that the KV cache empties).
/// </summary>
public sealed class GatewayFixture : IAsyncLifetime
{
    public string ModelDirectory { get; } = Directory.CreateTempSubdirectory("r1-gateway-model-").FullName;

    public InferenceEngine Engine { get; private set; } = null!;

    public GatewayServer Server { get; private set; } = null!;

    public static InferenceEngineOptions EngineOptions { get; } = new()
    {
        KvCacheTokens = 16_384,
        Scheduler = new SchedulerConfig { MaxNumSeqs = 32, MaxNumBatchedTokens = 512, SpeculativeMtp = true },
    };

    public async Task InitializeAsync()
    {
        ModelConfig config = SyntheticCheckpoint.TinyConfig() with { VocabSize = 4096, NumNextnPredictLayers = 1, BosTokenId = 0, EosTokenId = 1 };
        SyntheticCheckpoint.Write(ModelDirectory, config, new SyntheticCheckpointOptions(Seed: 5));
        string tok = GoldenDirectory.Case("tokenizer-bpe");
        File.Copy(Path.Combine(tok, "tokenizer.json"), Path.Combine(ModelDirectory, "tokenizer.json"));
        File.Copy(Path.Combine(tok, "tokenizer_config.json"), Path.Combine(ModelDirectory, "tokenizer_config.json"));
        Engine = InferenceEngine.Load(ModelDirectory, EngineOptions);
        Server = await GatewayServer.StartAsync(Engine);
    }

    /// <summary>Another engine over the same checkpoint (a small KV cache, a disposed engine...); the caller disposes it.</summary>
    public InferenceEngine LoadEngine(InferenceEngineOptions options) => InferenceEngine.Load(ModelDirectory, options);

    /// <summary>A copy of the checkpoint whose embedding row of <paramref name="token"/> is NaN; the caller deletes the directory.</summary>
    public string PoisonedCopy(int token)
    {
        string copy = Directory.CreateTempSubdirectory("r1-gateway-poisoned-").FullName;
        foreach (string file in Directory.EnumerateFiles(ModelDirectory))
        {
            File.Copy(file, Path.Combine(copy, Path.GetFileName(file)));
        }

        PoisonedCheckpoint.PoisonEmbeddingRow(copy, token);
        return copy;
    }

    /// <summary>Waits until the engine holds no KV blocks (a cancelled request is freed at the engine's next step).</summary>
    public async Task<bool> KvCacheEmptiesAsync(InferenceEngine? engine = null, int timeoutMs = 10_000)
    {
        engine ??= Engine;
        var deadline = DateTime.UtcNow.AddMilliseconds(timeoutMs);
        while (engine.Cache.Allocator.UsedBlocks > 0 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(10);
        }

        return engine.Cache.Allocator.UsedBlocks == 0;
    }

    public async Task DisposeAsync()
    {
        await Server.DisposeAsync();
        await Engine.DisposeAsync();
        Directory.Delete(ModelDirectory, true);
    }
}

[CollectionDefinition(Name)]
public sealed class GatewayCollection : ICollectionFixture<GatewayFixture>
{
    public const string Name = "Gateway";
}
