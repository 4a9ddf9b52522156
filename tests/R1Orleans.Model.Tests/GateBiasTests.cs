using R1Orleans.Backend;
using R1Orleans.Checkpoint;
using R1Orleans.Engine;

namespace R1Orleans.Model.Tests;

/// <summary>
/// The gate's versioned online bias: routing with it equals routing with a checkpoint that holds it, it is stamped on
/// the routing, the checkpoint's values stay unchanged, and a forward step routes all its layers with one version.
/// </summary>
public sealed class GateBiasTests : IDisposable
{
    private static readonly CpuBackend s_backend = new(threads: 1);
    private static readonly int[] s_prompt = [5, 17, 3, 60, 22, 9, 41, 2, 33];

    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private static ModelConfig GateConfig(int experts, int groups, int topkGroup, int k) =>
        TestConfigs.Small() with { HiddenSize = experts, NRoutedExperts = experts, NGroup = groups, TopkGroup = topkGroup, NumExpertsPerTok = k };

    private static Matrix Identity(int n)
    {
        var m = new float[n * n];
        for (int i = 0; i < n; i++)
        {
            m[(i * n) + i] = 1f;
        }

        return new Matrix(n, n, m);
    }

    /// <summary>x = logit(s), so the identity gate's sigmoid scores are s.</summary>
    private static float[] Logits(params double[] scores) => scores.Select(s => (float)Math.Log(s / (1 - s))).ToArray();

    [Fact]
    public void An_online_bias_routes_as_a_checkpoint_holding_it_would_and_is_stamped_on_the_routing()
    {
        ModelConfig c = GateConfig(4, 1, 1, 2);
        float[] x = Logits(0.9, 0.8, 0.7, 0.1);
        var gate = new NoauxTcGate(c, Identity(4), new float[4]);
        float[] online = [0f, 0f, 0f, 0.85f];

        ExpertRouting r = gate.Route(s_backend, x, 1, online, biasVersion: 3);

        // By hand: choice [0.9, 0.8, 0.7, 0.95] picks 3 then 0; weights are the unbiased scores 0.1 and 0.9 over their sum.
        Assert.Equal([3, 0], r.Ids(0).ToArray());
        TestData.AssertClose(r.Weights(0), [0.1 / 1.0 * 2.5, 0.9 / 1.0 * 2.5], 1e-6);
        Assert.Equal(3, r.GateBiasVersion);

        ExpertRouting reference = new NoauxTcGate(c, Identity(4), online).Route(s_backend, x, 1);
        Assert.Equal(reference.TopkIds, r.TopkIds);
        Assert.Equal(reference.TopkWeights, r.TopkWeights);

        // The checkpoint's bias is untouched and routes as before, version 0.
        Assert.Equal(new float[4], gate.Bias.ToArray());
        ExpertRouting plain = gate.Route(s_backend, x, 1);
        Assert.Equal([0, 1], plain.Ids(0).ToArray());
        Assert.Equal(0, plain.GateBiasVersion);
    }

    [Fact]
    public void An_online_bias_can_move_a_whole_group_out_of_the_kept_groups()
    {
        // Groups of two: [0.9, 0.8] = 1.7, [0.6, 0.5] = 1.1, [0.4, 0.3] = 0.7, [0.2, 0.1] = 0.3; keep two groups, pick 2.
        ModelConfig c = GateConfig(8, 4, 2, 2);
        float[] x = Logits(0.9, 0.8, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1);
        var gate = new NoauxTcGate(c, Identity(8), new float[8]);
        Assert.Equal([0, 1], gate.Route(s_backend, x, 1).Ids(0).ToArray());

        // −0.5 on group 0 and +0.25 on group 3: group scores 0.7, 1.1, 0.7, 0.8 → groups 1 and 3; choice 0.6, 0.5, 0.45, 0.35.
        float[] online = [-0.5f, -0.5f, 0f, 0f, 0f, 0f, 0.25f, 0.25f];
        ExpertRouting r = gate.Route(s_backend, x, 1, online, biasVersion: 1);
        Assert.Equal([2, 3], r.Ids(0).ToArray());
        TestData.AssertClose(r.Weights(0), [0.6 / 1.1 * 2.5, 0.5 / 1.1 * 2.5], 1e-6);
    }

    [Fact]
    public void Switching_the_correction_bias_off_ignores_an_online_bias_too()
    {
        ModelConfig c = GateConfig(4, 1, 1, 2);
        var gate = new NoauxTcGate(c, Identity(4), new float[4]) { UseCorrectionBias = false };
        ExpertRouting r = gate.Route(s_backend, Logits(0.9, 0.8, 0.7, 0.1), 1, [0f, 0f, 0f, 0.85f], 2);
        Assert.Equal([0, 1], r.Ids(0).ToArray());
    }

    [Fact]
    public void An_online_bias_of_the_wrong_length_is_refused()
    {
        var gate = new NoauxTcGate(GateConfig(4, 1, 1, 2), Identity(4), new float[4]);
        Assert.Throws<ArgumentException>(() => gate.Route(s_backend, Logits(0.9, 0.8, 0.7, 0.1), 1, new float[3], 1));
    }

    [Fact]
    public void A_gate_bias_copies_its_values_and_refuses_non_finite_ones()
    {
        float[] values = [0.5f, -0.25f];
        var bias = new GateBias(7, new Dictionary<int, float[]> { [2] = values });
        values[0] = 9f;
        Assert.Equal([0.5f, -0.25f], bias.For(2).ToArray());
        Assert.Equal(7, bias.Version);
        Assert.Equal([2], bias.Layers);
        Assert.Throws<ArgumentException>(() => bias.For(3));
        Assert.Throws<ArgumentException>(() => new GateBias(1, new Dictionary<int, float[]> { [1] = [0f, float.NaN] }));
        Assert.Throws<ArgumentOutOfRangeException>(() => new GateBias(-1, new Dictionary<int, float[]>()));

        var other = new GateBias(0, new Dictionary<int, float[]> { [2] = [0.25f, -0.5f] });
        Assert.Equal(0.25, bias.Drift(other, 2), 12);
    }

    [Fact]
    public void The_slot_takes_only_newer_versions()
    {
        var slot = new GateBiasSlot();
        GateBias V(long v) => new(v, new Dictionary<int, float[]> { [1] = [v] });
        Assert.Null(slot.Current);
        Assert.False(slot.TrySet(V(0)));
        Assert.True(slot.TrySet(V(2)));
        Assert.False(slot.TrySet(V(1)));
        Assert.False(slot.TrySet(V(2)));
        Assert.Equal(2, slot.Current!.Version);
        Assert.True(slot.TrySet(V(5)));
        Assert.Equal(5f, slot.Current!.For(1)[0]);
    }

    [Fact]
    public void Giving_the_checkpoint_bias_explicitly_is_bit_identical_to_giving_none()
    {
        using LoadedModel m = Load("explicit", 21);
        ModelOutput plain = Forward(m, s_prompt, null, out List<ExpertRouting> plainRouting);
        ModelOutput given = Forward(m, s_prompt, m.Model.CheckpointGateBias, out List<ExpertRouting> givenRouting);
        Assert.Equal(plain.Logits, given.Logits);
        Assert.Equal(plainRouting.Select(r => r.TopkIds), givenRouting.Select(r => r.TopkIds));
        Assert.Equal(plainRouting.Select(r => r.TopkWeights), givenRouting.Select(r => r.TopkWeights));
        Assert.All(givenRouting, r => Assert.Equal(0, r.GateBiasVersion));
    }

    [Fact]
    public void A_bias_set_while_a_step_runs_waits_for_the_next_step()
    {
        using LoadedModel m = Load("midstep", 22);
        int[] moeLayers = [.. m.Model.Gates.Select(g => g.Layer)];
        Assert.True(moeLayers.Length >= 2, "the test needs a step with several MoE layers");

        // v1 pushes expert 5 up in every layer; v2, set from inside the next step as its first MoE layer routes, pushes expert 2.
        GateBias v1 = Favouring(m, 1, 5);
        GateBias v2 = Favouring(m, 2, 2);
        Assert.True(m.Model.ApplyGateBias(v1));
        var observer = new RecordingObserver(onFirst: () => Assert.True(m.Model.ApplyGateBias(v2)));
        m.Model.Forward(Batch(m, s_prompt, observer));

        // Every layer of that step routed with v1 (expert 5 chosen by every token), although v2 was set after its first layer.
        Assert.Equal(moeLayers, observer.Routings.Select(r => r.Layer));
        Assert.All(observer.Routings, r => Assert.Equal(1, r.Routing.GateBiasVersion));
        Assert.All(observer.Routings, r => Assert.All(Enumerable.Range(0, s_prompt.Length), t => Assert.Contains(5, r.Routing.Ids(t).ToArray())));
        Assert.Equal(2, m.Model.OnlineGateBias!.Version);

        // The next step routes every layer with v2.
        var next = new RecordingObserver(onFirst: null);
        m.Model.Forward(Batch(m, s_prompt, next));
        Assert.All(next.Routings, r => Assert.Equal(2, r.Routing.GateBiasVersion));
        Assert.All(next.Routings, r => Assert.All(Enumerable.Range(0, s_prompt.Length), t => Assert.Contains(2, r.Routing.Ids(t).ToArray())));

        // An older version pushed late changes nothing.
        Assert.False(m.Model.ApplyGateBias(v1));
        Assert.Equal(2, m.Model.CurrentGateBias.Version);
    }

    [Fact]
    public void A_bias_that_does_not_cover_exactly_the_moe_layers_is_refused()
    {
        using LoadedModel m = Load("refused", 23);
        Dictionary<int, float[]> layers = m.Model.CheckpointGateBias.ToDictionary();
        int first = layers.Keys.First();

        var missing = new Dictionary<int, float[]>(layers);
        missing.Remove(first);
        Assert.Throws<ArgumentException>(() => m.Model.ApplyGateBias(new GateBias(1, missing)));

        var dense = new Dictionary<int, float[]>(layers) { [0] = new float[m.Config.NRoutedExperts] };
        Assert.Throws<ArgumentException>(() => m.Model.ApplyGateBias(new GateBias(1, dense)));

        var shortLayer = new Dictionary<int, float[]>(layers) { [first] = new float[m.Config.NRoutedExperts - 1] };
        Assert.Throws<ArgumentException>(() => m.Model.ApplyGateBias(new GateBias(1, shortLayer)));
        Assert.Null(m.Model.OnlineGateBias);
    }

    /// <summary>The checkpoint's bias with +10 on one expert of every layer: that expert wins every token's choice.</summary>
    private static GateBias Favouring(LoadedModel m, long version, int expert)
    {
        Dictionary<int, float[]> layers = m.Model.CheckpointGateBias.ToDictionary();
        foreach (float[] values in layers.Values)
        {
            values[expert] += 10f;
        }

        return new GateBias(version, layers);
    }

    private LoadedModel Load(string name, int seed)
    {
        string path = Path.Combine(_dir.Path, name);
        SyntheticCheckpoint.Write(path, SyntheticModelFixture.GroupedConfig(), new SyntheticCheckpointOptions(Seed: seed));
        return LoadedModel.Load(path, new CpuBackend(threads: 2));
    }

    private static ForwardBatch Batch(LoadedModel m, int[] tokens, IRoutingObserver observer)
    {
        PagedSequenceCache seq = m.NewCache(64, blockSize: 4).NewSequence();
        seq.Reserve(tokens.Length);
        return BatchBuilder.Prefill([tokens], [seq], observer: observer);
    }

    private static ModelOutput Forward(LoadedModel m, int[] tokens, GateBias? bias, out List<ExpertRouting> routing)
    {
        var observer = new RecordingObserver(null);
        ForwardBatch b = Batch(m, tokens, observer);
        ModelOutput output = m.Model.Forward(new ForwardBatch { Tokens = b.Tokens, Sequences = b.Sequences, RoutingObserver = observer, GateBias = bias });
        routing = [.. observer.Routings.Select(r => r.Routing)];
        return output;
    }

    private sealed class RecordingObserver(Action? onFirst) : IRoutingObserver
    {
        public List<(int Layer, ExpertRouting Routing)> Routings { get; } = [];

        public void OnRouted(int layer, ForwardBatch batch, ExpertRouting routing)
        {
            if (Routings.Count == 0)
            {
                onFirst?.Invoke();
            }

            Routings.Add((layer, routing));
        }
    }
}
