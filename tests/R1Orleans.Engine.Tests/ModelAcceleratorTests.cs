using R1Orleans.Backend;
using R1Orleans.Checkpoint;
using R1Orleans.Conformance;
using R1Orleans.Engine;
using R1Orleans.Model;
using R1Orleans.TestSupport;
using R1Orleans.Transport;

namespace R1Orleans.Engine.Tests;

public class ModelAcceleratorTests
{
    [Fact]
    public void Every_step_of_a_golden_check_runs_through_the_accelerator_and_its_routing_counts_as_expert_load()
    {
        string dir = GoldenDirectory.Case("tiny-bf16-yarn");
        SameCachesAccelerator? made = null;
        ExpertLoadCounter? load = null;
        ModelAcceleratorFactory factory = (model, experts, routed) =>
        {
            made = new SameCachesAccelerator(dir, routed);
            return made;
        };

        GoldenReport report = GoldenChecker.Check(dir, new CpuBackend(1), accelerator: factory);

        Assert.True(report.Passed, string.Join("; ", report.Prompts.Select(p => $"{p.Prompt}: logits {p.LogitRelError:E2}, routing {p.RoutingMismatches}, greedy {p.GreedyMismatches}")));
        Assert.NotNull(made);

        // The checked prefill of all prompts; then the greedy run's own prefill and one step per token after its first
        // (the MTP head runs op by op).
        GoldenCase golden = GoldenCase.Load(dir);
        Assert.Equal(1 + golden.Prompts.Max(p => p.Greedy.Length), made!.Steps);
        Assert.True(made.RoutedLayers > 0);

        using LoadedModel loaded = LoadedModel.Load(dir, new CpuBackend(1), new ModelLoadOptions { Accelerator = (m, e, routed) => new SameCachesAccelerator(dir, routed) });
        load = loaded.ExpertLoad;
        Assert.NotNull(loaded.Model.Accelerator);
        PagedLatentCache cache = loaded.NewCache(64);
        PagedSequenceCache seq = cache.NewSequence();
        seq.Reserve(3);
        loaded.Model.Forward(BatchBuilder.Prefill([[1, 2, 3]], [seq]));
        int k = loaded.Config.NumExpertsPerTok;
        int moeLayers = loaded.Model.Gates.Count(g => g.Layer < loaded.Model.Blocks.Count);
        Assert.Equal(3L * k * moeLayers, load.Total);
    }

    [Fact]
    public void A_cluster_rank_reaching_its_experts_through_an_exchange_gets_no_accelerator()
    {
        string dir = GoldenDirectory.Case("tiny-bf16-yarn");
        bool asked = false;
        var options = new ModelLoadOptions
        {
            Exchange = (reader, mtp) => new InProcessExpertExchange(new CpuBackend(1), ExpertShard.Load(reader.Config, new WeightLoader(reader), (_, _) => true, mtp), reader.Config.NRoutedExperts),
            Accelerator = (m, e, r) =>
            {
                asked = true;
                return new SameCachesAccelerator(dir, r);
            },
        };

        using LoadedModel loaded = LoadedModel.Load(dir, new CpuBackend(1), options);
        Assert.Null(loaded.Model.Accelerator);
        Assert.False(asked);
    }

    /// <summary>
    /// An accelerator that runs a second copy of the model on the CPU over the batch's own caches (the accelerated
    /// model never writes them itself), reporting each MoE layer's routing as a device accelerator does.
    /// </summary>
    private sealed class SameCachesAccelerator : IModelAccelerator, IDisposable, IRoutingObserver
    {
        private readonly LoadedModel _inner;
        private readonly Action<int, ExpertRouting>? _routed;
        private IRoutingObserver? _outer;

        public SameCachesAccelerator(string dir, Action<int, ExpertRouting>? routed)
        {
            _inner = LoadedModel.Load(dir, new CpuBackend(1), withMtp: false);
            _routed = routed;
        }

        public int Steps { get; private set; }

        public int RoutedLayers { get; private set; }

        public ModelOutput Forward(ForwardBatch batch, int[] logitRows, GateBias? bias)
        {
            Steps++;
            _outer = batch.RoutingObserver;
            var inner = new ForwardBatch { Tokens = batch.Tokens, Sequences = batch.Sequences, Attention = batch.Attention, RoutingObserver = this, GateBias = bias };
            return _inner.Model.Forward(inner, logitRows);
        }

        public void OnRouted(int layer, ForwardBatch batch, ExpertRouting routing)
        {
            RoutedLayers++;
            _outer?.OnRouted(layer, batch, routing);
            _routed?.Invoke(layer, routing);
        }

        public void Dispose() => _inner.Dispose();
    }
}
