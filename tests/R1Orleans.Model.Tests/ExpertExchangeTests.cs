using R1Orleans.Backend;
using R1Orleans.Checkpoint;
using R1Orleans.Engine;
using R1Orleans.Placement;
using R1Orleans.Placement.Balancing;
using R1Orleans.Transport;

namespace R1Orleans.Model.Tests;

public sealed class DispatchLayoutTests
{
    [Fact]
    public void Layout_groups_slots_by_expert_in_token_order()
    {
        // Token 0 → [2, 0], token 1 → [0, 1], token 2 → [2, 1]; expert 3 gets nothing.
        var routing = new ExpertRouting(3, 2, [2, 0, 0, 1, 2, 1], new float[6]);
        var layout = DispatchLayout.Build(routing, 4);
        Assert.Equal(4, layout.Experts);
        Assert.Equal([0, 2, 4, 6, 6], layout.ExpertOffsets);
        Assert.Equal([0, 1, 1, 2, 0, 2], layout.SourceToken);
        Assert.Equal([1, 0, 1, 1, 0, 0], layout.SourceSlot);
        Assert.Equal(2, layout.TokensFor(0));
        Assert.Equal(0, layout.TokensFor(3));
    }

    [Fact]
    public void Layout_rejects_an_expert_id_outside_the_layer()
    {
        var routing = new ExpertRouting(1, 2, [0, 4], new float[2]);
        Assert.Throws<ArgumentOutOfRangeException>(() => DispatchLayout.Build(routing, 4));
    }
}

public sealed class ExpertLoadCounterTests
{
    [Fact]
    public void Counts_tokens_per_layer_and_expert()
    {
        var counter = new ExpertLoadCounter();
        counter.Add(1, 2, 3);
        counter.Add(1, 2, 2);
        counter.Add(1, 0, 5);
        counter.Add(2, 2, 7);
        Assert.Equal(5, counter.Tokens(1, 2));
        Assert.Equal(5, counter.Tokens(1, 0));
        Assert.Equal(0, counter.Tokens(1, 1));
        Assert.Equal(7, counter.Tokens(2, 2));
    }

    [Fact]
    public void Imbalance_is_max_over_mean_and_undefined_for_an_idle_layer()
    {
        var counter = new ExpertLoadCounter();
        Assert.True(double.IsNaN(counter.Imbalance(0, 4)));
        counter.Add(0, 0, 6);
        counter.Add(0, 1, 2);

        // Four experts, 8 tokens: mean 2, max 6.
        Assert.Equal(3.0, counter.Imbalance(0, 4));
        counter.Add(0, 1, 4);
        counter.Add(0, 2, 6);
        counter.Add(0, 3, 6);
        Assert.Equal(1.0, counter.Imbalance(0, 4));
        Assert.True(double.IsNaN(counter.Imbalance(1, 4)));
    }

    [Fact]
    public void Concurrent_adds_are_all_counted()
    {
        var counter = new ExpertLoadCounter();
        Parallel.For(0, 10_000, i => counter.Add(0, i % 4, 1));
        Assert.Equal(2500, counter.Tokens(0, 3));
    }

    [Fact]
    public void Closing_a_window_returns_its_counts_per_replica_and_starts_the_next()
    {
        var clock = new ManualClock();
        var counter = new ExpertLoadCounter(clock);
        var silo = new SiloId("S1");
        counter.Add(3, 1, 0, 4, placementVersion: 7);
        counter.Add(3, 1, 1, 6, placementVersion: 7);
        counter.Add(3, 1, 1, 1, placementVersion: 8);
        counter.Add(4, 0, 0, 2, placementVersion: 8);
        clock.Advance(TimeSpan.FromSeconds(2));

        ExpertLoadWindow first = counter.CloseWindow(silo);
        Assert.Equal(silo, first.Silo);
        Assert.Equal(1, first.Window);
        Assert.Equal(7, first.FirstPlacementVersion);
        Assert.Equal(8, first.PlacementVersion);
        Assert.False(first.SinglePlacement);
        Assert.Equal(TimeSpan.FromSeconds(2), first.Duration);
        Assert.Equal([new(3, 1, 0, 4), new(3, 1, 1, 7), new(4, 0, 0, 2)], first.Counts);

        counter.Add(3, 1, 0, 5, placementVersion: 8);
        clock.Advance(TimeSpan.FromSeconds(1));
        ExpertLoadWindow second = counter.CloseWindow(silo);
        Assert.Equal(2, second.Window);
        Assert.True(second.SinglePlacement);
        Assert.Equal([new ExpertReplicaLoad(3, 1, 0, 5)], second.Counts);
        Assert.Equal(TimeSpan.FromSeconds(1), second.Duration);

        // The cumulative counters (/metrics) are not reset by windows.
        Assert.Equal(16, counter.Tokens(3, 1));
        Assert.Equal(9, counter.Tokens(3, 1, 0));
        Assert.Equal(7, counter.Tokens(3, 1, 1));
        Assert.Empty(counter.CloseWindow(silo).Counts);
        Assert.Equal(3, counter.WindowsClosed);
    }

    [Fact]
    public void Tokens_added_while_windows_close_land_in_exactly_one_window()
    {
        var counter = new ExpertLoadCounter();
        var silo = new SiloId("S1");
        var windows = new List<ExpertLoadWindow>();
        Parallel.Invoke(
            () => Parallel.For(0, 20_000, i => counter.Add(0, i % 4, i % 2, 1, 1)),
            () =>
            {
                for (int i = 0; i < 200; i++)
                {
                    windows.Add(counter.CloseWindow(silo));
                }
            });
        windows.Add(counter.CloseWindow(silo));
        Assert.Equal(20_000, windows.Sum(w => w.TotalTokens));
        Assert.Equal(Enumerable.Range(1, 201).Select(i => (long)i), windows.Select(w => w.Window));
    }

    /// <summary>A clock the test moves by hand (window durations without sleeping).</summary>
    private sealed class ManualClock : TimeProvider
    {
        private long _ticks;

        public override long TimestampFrequency => TimeSpan.TicksPerSecond;

        public override long GetTimestamp() => _ticks;

        public void Advance(TimeSpan by) => _ticks += by.Ticks;
    }
}

[Collection(SyntheticModelCollection.Name)]
public sealed class InProcessExpertExchangeTests(SyntheticModelFixture fixture)
{
    private const int Layer = 1;
    private static readonly CpuBackend s_backend = new(threads: 2);

    private LoadedModel Model => fixture.Grouped;

    private int Hidden => Model.Config.HiddenSize;

    private InProcessExpertExchange NewExchange() => new(s_backend, Model.Experts, Model.Config.NRoutedExperts);

    [Fact]
    public void Output_equals_the_weighted_sum_of_the_chosen_experts_computed_directly()
    {
        const int n = 5;
        float[] x = TestData.Floats(1, n * Hidden);
        var routing = new ExpertRouting(n, 3, [0, 5, 7, 5, 1, 0, 2, 3, 6, 7, 5, 4, 1, 1, 0], [0.5f, 1.25f, -0.75f, 1f, 0.5f, 0.25f, 2f, 0.1f, 0.3f, 0.7f, 0.9f, 1.1f, 0.4f, 0.6f, 1.5f]);
        float[] y = new float[n * Hidden];
        NewExchange().DispatchCombine(Layer, x, routing, y);

        for (int t = 0; t < n; t++)
        {
            double[] expected = new double[Hidden];
            float[] e = new float[Hidden];
            for (int k = 0; k < routing.K; k++)
            {
                Model.Experts.Get(Layer, routing.Ids(t)[k]).Forward(s_backend, x.AsSpan(t * Hidden, Hidden), 1, e);
                for (int j = 0; j < Hidden; j++)
                {
                    expected[j] += routing.Weights(t)[k] * (double)e[j];
                }
            }

            TestData.AssertClose(y.AsSpan(t * Hidden, Hidden), expected, 1e-5);
        }
    }

    [Fact]
    public void A_tokens_output_is_bit_identical_alone_or_batched_with_other_tokens()
    {
        float[] mine = TestData.Floats(2, Hidden);
        int[] myIds = [6, 1, 3];
        float[] myWeights = [0.9f, 0.6f, 1.0f];
        float[] alone = new float[Hidden];
        NewExchange().DispatchCombine(Layer, mine, new ExpertRouting(1, 3, myIds, myWeights), alone);

        // The same token third in a batch of five whose other tokens share some of its experts.
        const int n = 5;
        float[] x = TestData.Floats(3, n * Hidden);
        mine.CopyTo(x.AsSpan(2 * Hidden));
        int[] ids = [1, 6, 0, 3, 2, 6, .. myIds, 3, 1, 6, 0, 4, 5];
        float[] weights = [.. TestData.Floats(4, 6), .. myWeights, .. TestData.Floats(5, 6)];
        float[] y = new float[n * Hidden];
        NewExchange().DispatchCombine(Layer, x, new ExpertRouting(n, 3, ids, weights), y);
        Assert.Equal(alone, y[(2 * Hidden)..(3 * Hidden)]);
    }

    [Fact]
    public void Load_counts_the_tokens_dispatched_to_each_expert()
    {
        InProcessExpertExchange exchange = NewExchange();
        var routing = new ExpertRouting(3, 2, [2, 0, 0, 1, 2, 1], [1f, 1f, 1f, 1f, 1f, 1f]);
        float[] x = TestData.Floats(6, 3 * Hidden);
        exchange.DispatchCombine(Layer, x, routing, new float[3 * Hidden]);
        exchange.DispatchCombine(2, x, routing, new float[3 * Hidden]);
        exchange.DispatchCombine(Layer, x.AsSpan(0, Hidden), new ExpertRouting(1, 2, [2, 5], [1f, 1f]), new float[Hidden]);
        Assert.Equal(2, exchange.Load.Tokens(Layer, 0));
        Assert.Equal(2, exchange.Load.Tokens(Layer, 1));
        Assert.Equal(3, exchange.Load.Tokens(Layer, 2));
        Assert.Equal(1, exchange.Load.Tokens(Layer, 5));
        Assert.Equal(0, exchange.Load.Tokens(Layer, 3));
        Assert.Equal(2, exchange.Load.Tokens(2, 0));

        // Layer 1 over 8 experts: 8 slots, mean 1, max 3.
        Assert.Equal(3.0, exchange.Load.Imbalance(Layer, Model.Config.NRoutedExperts));
    }

    [Fact]
    public void An_expert_missing_from_the_shard_is_an_error_not_a_skip()
    {
        ExpertShard partial = ExpertShard.Load(Model.Config, new WeightLoader(Model.Reader), (_, e) => e != 3, withMtp: false);
        Assert.False(partial.Contains(Layer, 3));
        Assert.True(partial.Contains(Layer, 2));
        var exchange = new InProcessExpertExchange(s_backend, partial, Model.Config.NRoutedExperts);
        float[] x = TestData.Floats(7, Hidden);
        Assert.Throws<KeyNotFoundException>(() => exchange.DispatchCombine(Layer, x, new ExpertRouting(1, 2, [2, 3], [1f, 1f]), new float[Hidden]));
    }

    [Fact]
    public void Shard_loads_only_the_experts_it_owns_of_moe_layers()
    {
        ModelConfig c = Model.Config;
        ExpertShard shard = ExpertShard.Load(c, new WeightLoader(Model.Reader), (_, e) => e % 4 == 1, withMtp: false);

        // MoE layers 1 and 2 (layer 0 is dense), experts 1 and 5 of each.
        Assert.Equal(4, shard.Count);
        Assert.Equal([(1, 1), (1, 5), (2, 1), (2, 5)], shard.Keys.Order().ToArray());
        long perExpert = 3L * c.HiddenSize * c.MoeIntermediateSize * sizeof(float);
        Assert.Equal(4 * perExpert, shard.WeightBytes);
    }
}
