using System.Threading.Channels;
using R1Orleans.Backend;
using R1Orleans.Conformance;
using R1Orleans.Engine;
using R1Orleans.Engine.Sampling;
using R1Orleans.Engine.Scheduling;
using R1Orleans.TestSupport;

namespace R1Orleans.Engine.Tests;

/// <summary>Drives an EngineCore step by step on one thread and collects each request's events.</summary>
internal sealed class EngineHarness : IDisposable
{
    private readonly Dictionary<string, Channel<GenerationEvent>> _streams = [];
    private readonly GoldenCase? _golden;

    public EngineHarness(string caseName, SchedulerConfig config, int kvTokens = 4096, int blockSize = 16)
        : this(GoldenCase.Load(GoldenDirectory.Case(caseName)), null, config, kvTokens, blockSize)
    {
    }

    private EngineHarness(GoldenCase? golden, string? directory, SchedulerConfig config, int kvTokens, int blockSize)
    {
        _golden = golden;
        // A directory other than a golden case is a test's own (e.g. a deliberately poisoned) checkpoint: load it as it is.
        Model = LoadedModel.Load(golden?.Directory ?? directory!, new CpuBackend(), new ModelLoadOptions { AllowNonfiniteWeights = golden is null });
        Cache = Model.NewCache(kvTokens, blockSize);
        Core = new EngineCore(Model.Model, Cache, config, null, Model.Config.EosTokenId);
    }

    public GoldenCase Golden => _golden ?? throw new InvalidOperationException("this harness runs a checkpoint that is not a golden case");

    public LoadedModel Model { get; }

    public PagedLatentCache Cache { get; }

    public EngineCore Core { get; }

    /// <summary>A harness over any checkpoint directory (no golden outputs).</summary>
    public static EngineHarness ForDirectory(string directory, SchedulerConfig config, int kvTokens = 4096, int blockSize = 16) =>
        new(null, directory, config, kvTokens, blockSize);

    public void Submit(string id, int[] prompt, SamplingParams sampling)
    {
        var ch = Channel.CreateUnbounded<GenerationEvent>();
        _streams[id] = ch;
        Core.Submit(new GenerationRequest(id, prompt, sampling), ch.Writer);
    }

    public int RunToCompletion(int maxSteps = 10_000)
    {
        int steps = 0;
        while (Core.Step())
        {
            if (++steps > maxSteps)
            {
                throw new InvalidOperationException("the engine did not finish");
            }
        }

        return steps;
    }

    public List<GenerationEvent> Events(string id)
    {
        var list = new List<GenerationEvent>();
        while (_streams[id].Reader.TryRead(out GenerationEvent? e))
        {
            list.Add(e);
        }

        return list;
    }

    public int[] Tokens(string id) => Events(id).Where(e => e.Token >= 0).Select(e => e.Token).ToArray();

    public void Dispose() => Model.Dispose();
}
