using System.Threading.Channels;
using R1Orleans.Backend;
using R1Orleans.Checkpoint;
using R1Orleans.Engine.Balancing;
using R1Orleans.Engine.Sampling;
using R1Orleans.Engine.Scheduling;
using R1Orleans.Model;
using R1Orleans.Text.Tokenization;
using R1Orleans.Transport;
using Xunit.Abstractions;

namespace R1Orleans.Engine.Tests;

/// <summary>
/// Online gate-bias balancing on the shipped trained model (models/r1orleans-tiny), driven step by step on one thread:
/// a step routes its main and MTP passes with one bias version whatever is pushed meanwhile, and on a skewed workload the
/// bias lowers the expert imbalance of later windows against the same workload with the frozen bias, within its drift.
/// </summary>
public sealed class OnlineGateBiasTests(ITestOutputHelper output)
{
    /// <summary>A few prompts, each repeated: a few experts run hot.</summary>
    private static readonly string[] s_skewed =
    [
        "In the beginning God created the heaven and the earth.",
        "The LORD is my shepherd; I shall not want.",
    ];

    private static string TinyModel => Path.Combine(RepositoryRoot, "models", "r1orleans-tiny");

    [Fact]
    public void A_step_routes_its_main_and_mtp_passes_with_one_version_while_new_ones_are_pushed_mid_step()
    {
        RecordingExchange? recorder = null;
        using LoadedModel m = LoadedModel.Load(TinyModel, new CpuBackend(threads: 2), new ModelLoadOptions
        {
            WithMtp = true,
            Exchange = (reader, mtp) => recorder = new RecordingExchange(reader, mtp),
        });
        Assert.NotNull(recorder);
        PagedLatentCache cache = m.NewCache(4096);
        var core = new EngineCore(m.Model, cache, new SchedulerConfig { SpeculativeMtp = true }, null, m.Config.EosTokenId);

        // At the first MoE layer of every step, push the next version (the checkpoint's values, so the outputs stay the
        // model's own): the step that is running must not see it.
        long pushed = 0;
        recorder.OnFirstDispatchOfStep = () =>
        {
            Dictionary<int, float[]> values = m.Model.CheckpointGateBias.ToDictionary();
            Assert.True(m.Model.ApplyGateBias(new GateBias(++pushed, values)));
        };

        var sink = Channel.CreateUnbounded<GenerationEvent>();
        R1Tokenizer tokenizer = R1Tokenizer.Load(Path.Combine(TinyModel, "tokenizer.json"));
        core.Submit(new GenerationRequest("a", [.. tokenizer.Encode(s_skewed[0])], SamplingParams.Greedy(12) with { IgnoreEos = true }), sink.Writer);
        core.Submit(new GenerationRequest("b", [.. tokenizer.Encode(s_skewed[1])], SamplingParams.Greedy(12) with { IgnoreEos = true }), sink.Writer);
        for (int i = 0; i < 100 && core.Step(); i++)
        {
        }

        Assert.False(core.HasWork);
        List<List<(int Layer, long Version)>> steps = recorder.Steps;
        Assert.True(steps.Count >= 6, $"only {steps.Count} steps ran");
        int mtpLayer = m.Config.NumHiddenLayers;
        Assert.Contains(steps, s => s.Any(d => d.Layer == mtpLayer));
        for (int i = 0; i < steps.Count; i++)
        {
            // Step i (from 0) started after i pushes: every dispatch of it, MTP included, used version i.
            Assert.All(steps[i], d => Assert.Equal(i, d.Version));
        }

        Assert.Equal(steps.Count, pushed);
    }

    [Fact]
    public void Bias_mode_lowers_the_expert_imbalance_of_later_windows_on_a_skewed_workload_within_its_drift()
    {
        var options = new OnlineGateBiasOptions { Gamma = 0.02, MaxDrift = 0.1, WindowSteps = 4 };
        List<double> frozen = Run(null, out _);
        List<double> online = Run(options, out OnlineGateBiasReport report);
        output.WriteLine($"frozen windows: {string.Join(" ", frozen.Select(v => v.ToString("F3")))}");
        output.WriteLine($"online windows: {string.Join(" ", online.Select(v => v.ToString("F3")))}");
        output.WriteLine($"version {report.Version}, drift {string.Join(" ", report.Drift.Select(d => $"{d.Key}:{d.Value:F4}"))}");

        // The same steps in both runs (every request generates its full length): window i is the same work.
        Assert.Equal(frozen.Count, online.Count);
        Assert.True(frozen.Count >= 8, $"only {frozen.Count} windows");

        // The first window ran with the checkpoint's bias in both runs: the same routing, the same imbalance.
        Assert.Equal(frozen[0], online[0], 12);
        double frozenLater = frozen.Skip(frozen.Count / 2).Average();
        double onlineLater = online.Skip(online.Count / 2).Average();
        Assert.True(onlineLater < frozenLater, $"later windows: online mean imbalance {onlineLater:F3}, frozen {frozenLater:F3}");

        Assert.Equal(report.Windows, report.Version);
        Assert.Equal(report.Windows, report.Updates);
        Assert.All(report.Drift.Values, d => Assert.InRange(d, 0, options.MaxDrift));
        Assert.Contains(report.Drift.Values, d => d > 0);
    }

    /// <summary>
    /// Runs the skewed workload to completion, balancing with <paramref name="options"/> (null: the frozen bias), and
    /// returns every window's imbalance (max/mean routed tokens) averaged over the MoE layers that routed tokens.
    /// </summary>
    private static List<double> Run(OnlineGateBiasOptions? options, out OnlineGateBiasReport report)
    {
        using LoadedModel m = LoadedModel.Load(TinyModel, new CpuBackend(threads: 2), new ModelLoadOptions { WithMtp = true });
        int windowSteps = options?.WindowSteps ?? 4;
        var online = options is null ? null : new OnlineGateBias(m.Model, m.ExpertLoad, options);
        int[] layers = [.. m.Model.Gates.Select(g => g.Layer)];
        var window = new ExpertLoadDelta(m.ExpertLoad, layers, m.Config.NRoutedExperts);
        var imbalance = new List<double>();
        long boundaries = 0;
        void Boundary()
        {
            if (boundaries++ > 0 && (boundaries - 1) % windowSteps == 0)
            {
                imbalance.Add(MeanImbalance(window.Take()));
            }

            online?.OnStepBoundary();
        }

        var core = new EngineCore(m.Model, m.NewCache(8192), new SchedulerConfig(), null, m.Config.EosTokenId) { BeforeStep = Boundary };
        R1Tokenizer tokenizer = R1Tokenizer.Load(Path.Combine(TinyModel, "tokenizer.json"));
        var sink = Channel.CreateUnbounded<GenerationEvent>();
        for (int copy = 0; copy < 4; copy++)
        {
            for (int p = 0; p < s_skewed.Length; p++)
            {
                core.Submit(new GenerationRequest($"{p}-{copy}", [.. tokenizer.Encode(s_skewed[p])], SamplingParams.Greedy(64) with { IgnoreEos = true }), sink.Writer);
            }
        }

        for (int i = 0; i < 1000 && core.Step(); i++)
        {
        }

        Assert.False(core.HasWork);
        report = online?.Report ?? OnlineGateBiasReport.Empty;
        return imbalance;
    }

    private static double MeanImbalance(IReadOnlyDictionary<int, long[]> window)
    {
        var values = new List<double>();
        foreach (long[] counts in window.Values)
        {
            long sum = counts.Sum();
            if (sum > 0)
            {
                values.Add(counts.Max() / ((double)sum / counts.Length));
            }
        }

        return values.Average();
    }

    private static string RepositoryRoot
    {
        get
        {
            for (DirectoryInfo? d = new(AppContext.BaseDirectory); d is not null; d = d.Parent)
            {
                if (File.Exists(Path.Combine(d.FullName, "R1Orleans.sln")) && Directory.Exists(Path.Combine(d.FullName, "models", "r1orleans-tiny")))
                {
                    return d.FullName;
                }
            }

            throw new DirectoryNotFoundException($"the repository root (R1Orleans.sln, models/r1orleans-tiny) not found above {AppContext.BaseDirectory}");
        }
    }

    /// <summary>The in-process exchange, recording the gate-bias version of every MoE layer dispatch, step by step.</summary>
    private sealed class RecordingExchange : IExpertExchange, IExpertLoadSource
    {
        private readonly InProcessExpertExchange _inner;

        public RecordingExchange(CheckpointReader reader, bool withMtp)
        {
            ExpertShard shard = ExpertShard.Load(reader.Config, new WeightLoader(reader), (_, _) => true, withMtp);
            _inner = new InProcessExpertExchange(new CpuBackend(threads: 1), shard, reader.Config.NRoutedExperts);
        }

        /// <summary>Per forward step (main pass, then the MTP pass of the same engine step): (layer, gate-bias version) of each dispatch.</summary>
        public List<List<(int Layer, long Version)>> Steps { get; } = [];

        public Action? OnFirstDispatchOfStep { get; set; }

        public ExpertLoadCounter Load => _inner.Load;

        public void BeginStep() => Steps.Add([]);

        public ExpertStep Dispatch(int layer, ReadOnlySpan<float> x, ExpertRouting routing)
        {
            List<(int Layer, long Version)> step = Steps[^1];
            step.Add((layer, routing.GateBiasVersion));
            if (step.Count == 1)
            {
                OnFirstDispatchOfStep?.Invoke();
            }

            return _inner.Dispatch(layer, x, routing);
        }

        public void Combine(ExpertStep step, Span<float> y) => _inner.Combine(step, y);
    }
}
