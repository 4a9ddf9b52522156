using R1Orleans.Grains.Balancing;
using R1Orleans.Model;
using R1Orleans.Placement;
using R1Orleans.Placement.Balancing;

namespace R1Orleans.Cluster.Tests;

/// <summary>
/// Bias mode's decision on a cluster (<see cref="ClusterGateBias"/>), without a cluster: the silos' windows are summed
/// over silos and replicas, the bias moves by γ against the summed load, only when tokens were routed, never past the
/// maximum drift, and a new balancer continues from the newest version a silo reports.
/// </summary>
public sealed class ClusterGateBiasTests
{
    private static GateBias Checkpoint() => new(0, new Dictionary<int, float[]>
    {
        [1] = [0f, 0f, 0f, 0f],
        [2] = [0.1f, -0.1f, 0f, 0.05f],
    });

    private static ExpertLoadWindow Window(string silo, long n, params ExpertReplicaLoad[] counts) =>
        new(new SiloId(silo), n, 1, 1, TimeSpan.FromSeconds(2), counts);

    [Fact]
    public void Windows_of_every_silo_and_replica_are_summed_and_move_the_bias_against_the_load()
    {
        var bias = new ClusterGateBias(Checkpoint(), new ClusterGateBiasOptions(0.01, 0.05, TimeSpan.FromSeconds(1)));
        bias.Offer(Window("a", 1, new(1, 0, 0, 10), new(1, 0, 1, 10), new(1, 1, 0, 2)));
        bias.Offer(Window("b", 1, new(1, 2, 0, 4), new(1, 3, 0, 4), new(7, 0, 0, 99)));

        GateBiasUpdate update = bias.Update()!;

        // Layer 1 routed [20, 2, 4, 4] (mean 7.5): expert 0 is chosen less from now on, the others more.
        Assert.Equal(1, update.Bias.Version);
        Assert.Equal([-0.01f, 0.01f, 0.01f, 0.01f], update.Bias.For(1).ToArray());
        Assert.Equal(20 / 7.5, update.ImbalanceBefore[1], 12);
        Assert.Equal(30, update.WindowTokens[1]);

        // Layer 2 routed nothing: it keeps the checkpoint's values; layer 7 has no gate bias and was left out.
        Assert.Equal(Checkpoint().For(2).ToArray(), update.Bias.For(2).ToArray());
        Assert.False(update.Bias.Covers(7));
        Assert.Same(update.Bias, bias.Current);
        Assert.Equal(0, bias.PendingTokens);

        GateBiasReport report = bias.Report(["a", "b"], []);
        Assert.Equal(1, report.Version);
        Assert.Equal(20 / 7.5, report.ImbalanceFirstWindow[1], 12);
        Assert.False(report.ImbalanceFirstWindow.ContainsKey(2));
        Assert.Equal(0.01, report.Drift[1], 6);
    }

    [Fact]
    public void An_idle_cluster_keeps_its_bias()
    {
        var bias = new ClusterGateBias(Checkpoint(), new ClusterGateBiasOptions(0.01, 0.05, TimeSpan.FromSeconds(1)));
        Assert.Null(bias.Update());
        bias.Offer(Window("a", 1, new ExpertReplicaLoad(1, 0, 0, 0)));
        Assert.Null(bias.Update());
        Assert.Equal(0, bias.Current.Version);
    }

    [Fact]
    public void The_bias_never_drifts_past_its_maximum_however_long_the_skew_lasts()
    {
        var bias = new ClusterGateBias(Checkpoint(), new ClusterGateBiasOptions(0.01, 0.035, TimeSpan.FromSeconds(1)));
        for (int i = 0; i < 20; i++)
        {
            bias.Offer(Window("a", i, new(1, 0, 0, 50), new(1, 1, 0, 1), new(2, 3, 0, 50), new(2, 0, 0, 1)));
            Assert.NotNull(bias.Update());
        }

        Assert.Equal(20, bias.Current.Version);
        foreach (int layer in bias.Current.Layers)
        {
            double drift = bias.Current.Drift(bias.Checkpoint, layer);
            Assert.True(drift <= 0.035, $"layer {layer} drifted {drift}");
            Assert.True(drift > 0.034, $"layer {layer} drifted only {drift} after 20 skewed windows");
        }

        Assert.True(bias.Current.For(1)[0] < 0, "the hot expert's bias went down");
        Assert.True(bias.Current.For(2)[3] < 0.05f, "the hot expert's bias went down");
    }

    [Fact]
    public void A_new_balancer_continues_from_the_newest_version_a_silo_reports()
    {
        var bias = new ClusterGateBias(Checkpoint(), new ClusterGateBiasOptions(0.01, 0.05, TimeSpan.FromSeconds(1)));
        Dictionary<int, float[]> seen = Checkpoint().ToDictionary();
        seen[1][2] = 0.03f;
        Assert.True(bias.Adopt(new GateBias(5, seen)));
        Assert.False(bias.Adopt(new GateBias(3, Checkpoint().ToDictionary())));
        Assert.False(bias.Adopt(new GateBias(5, Checkpoint().ToDictionary())));

        bias.Offer(Window("a", 1, new(1, 2, 0, 10), new(1, 0, 0, 1)));
        GateBias next = bias.Update()!.Bias;
        Assert.Equal(6, next.Version);
        Assert.Equal(0.02f, next.For(1)[2], 6);

        Assert.Throws<ArgumentException>(() => bias.Adopt(new GateBias(9, new Dictionary<int, float[]> { [1] = [0f, 0f, 0f, 0f] })));
    }

    [Fact]
    public void A_window_naming_an_expert_the_gate_does_not_have_is_refused()
    {
        var bias = new ClusterGateBias(Checkpoint(), new ClusterGateBiasOptions(0.01, 0.05, TimeSpan.FromSeconds(1)));
        Assert.Throws<ArgumentException>(() => bias.Offer(Window("a", 1, new ExpertReplicaLoad(1, 4, 0, 1))));
        Assert.Throws<ArgumentException>(() => new ClusterGateBias(new GateBias(0, new Dictionary<int, float[]>()), bias.Options));
    }

    [Fact]
    public void A_bias_crosses_the_wire_unchanged()
    {
        GateBias b = Checkpoint();
        GateBias back = GateBiasDto.From(b).ToGateBias();
        Assert.Equal(b.Layers, back.Layers);
        Assert.All(b.Layers, l => Assert.Equal(b.For(l).ToArray(), back.For(l).ToArray()));
        Assert.Throws<ArgumentException>(() => new GateBiasDto(1, [1, 1], [[0f], [0f]]).ToGateBias());
        Assert.Throws<ArgumentException>(() => new GateBiasDto(1, [1], [[float.NaN]]).ToGateBias());
    }
}
