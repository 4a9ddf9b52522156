namespace R1Orleans.Model.Tests;

/// <summary>
/// The auxiliary-loss-free bias update on hand-checkable windows: b_i ← b_i − γ·sign(load_i − mean), clamped to
/// |b − b₀| ≤ maxDrift, version + 1, with the window's max/mean imbalance and the drift reported per layer.
/// </summary>
public sealed class GateBiasBalancerTests
{
    private static GateBias Bias(long version, params (int Layer, float[] Values)[] layers) =>
        new(version, layers.ToDictionary(l => l.Layer, l => l.Values));

    private static Dictionary<int, long[]> Window(params (int Layer, long[] Counts)[] layers) => layers.ToDictionary(l => l.Layer, l => l.Counts);

    [Fact]
    public void Overloaded_experts_move_down_underloaded_up_and_one_at_the_mean_stays()
    {
        GateBias b0 = Bias(0, (1, [0f, 0f, 0f, 0f]), (2, [0f, 0f, 0f, 0f]));
        var balancer = new GateBiasBalancer(gamma: 0.001, maxDrift: 0.1);

        // Layer 1: mean 3, expert 0 above it, the rest below. Layer 2: mean 3, experts 0 and 1 exactly at it.
        GateBiasUpdate u = balancer.Update(Window((1, [6, 2, 2, 2]), (2, [3, 3, 1, 5])), b0, b0);

        Assert.Equal([-0.001f, 0.001f, 0.001f, 0.001f], u.Bias.For(1).ToArray());
        Assert.Equal([0f, 0f, 0.001f, -0.001f], u.Bias.For(2).ToArray());
        Assert.Equal(2.0, u.ImbalanceBefore[1], 12);
        Assert.Equal(5.0 / 3.0, u.ImbalanceBefore[2], 12);
        Assert.Equal(12, u.WindowTokens[1]);
        Assert.Equal(0.001, u.Drift[1], 6);
        Assert.Equal(0.001, u.Drift[2], 6);
    }

    [Fact]
    public void Equal_loads_and_an_empty_window_leave_the_bias_unchanged()
    {
        GateBias b0 = Bias(0, (1, [0.25f, -0.5f, 0f]), (3, [0.1f, 0.2f, 0.3f]));
        GateBias current = Bias(4, (1, [0.26f, -0.51f, 0.005f]), (3, [0.1f, 0.2f, 0.3f]));
        var balancer = new GateBiasBalancer(0.001, 0.1);

        // Layer 3 has no entry at all; layer 1's load is flat.
        GateBiasUpdate u = balancer.Update(Window((1, [7, 7, 7])), current, b0);

        Assert.Equal(current.For(1).ToArray(), u.Bias.For(1).ToArray());
        Assert.Equal(current.For(3).ToArray(), u.Bias.For(3).ToArray());
        Assert.Equal(1.0, u.ImbalanceBefore[1]);
        Assert.True(double.IsNaN(u.ImbalanceBefore[3]));
        Assert.Equal(0, u.WindowTokens[3]);
        Assert.Equal(5, u.Bias.Version);
    }

    [Fact]
    public void The_bias_is_clamped_to_max_drift_from_the_checkpoint_value()
    {
        GateBias b0 = Bias(0, (1, [0.5f, -0.2f, 0f, 0f]));
        var balancer = new GateBiasBalancer(gamma: 0.004, maxDrift: 0.01);

        // Expert 0 always hot, expert 1 always cold: after 3 windows they would be 0.012 away; they stop at 0.01.
        GateBias b = b0;
        for (int i = 0; i < 3; i++)
        {
            b = balancer.Update(Window((1, [10, 0, 3, 3])), b, b0).Bias;
        }

        Assert.Equal(0.5 - 0.01, b.For(1)[0], 6);
        Assert.Equal(-0.2 + 0.01, b.For(1)[1], 6);
        Assert.True(Math.Abs((double)b.For(1)[0] - 0.5f) <= 0.01, "hot expert beyond the drift bound");
        Assert.True(Math.Abs((double)b.For(1)[1] - -0.2f) <= 0.01, "cold expert beyond the drift bound");

        // Experts 2 and 3 sit below the mean (4): they would rise 3 × 0.004 = 0.012 and are clamped to 0.01 as well.
        Assert.Equal(0.01, b.For(1)[2], 6);
        Assert.Equal(0.01, b.Drift(b0, 1), 6);
    }

    [Fact]
    public void Drift_never_exceeds_the_bound_over_many_windows()
    {
        float[] start = [0.3f, -0.7f, 0.011f, 1e-7f, -0.05f, 0.9f];
        GateBias b0 = Bias(0, (1, start), (2, [.. start.Reverse()]));
        var balancer = new GateBiasBalancer(gamma: 0.0007, maxDrift: 0.0123);
        var random = new Random(5);
        GateBias b = b0;
        for (int w = 0; w < 200; w++)
        {
            long[] Counts() => [.. Enumerable.Range(0, 6).Select(_ => (long)random.Next(0, 20))];
            GateBiasUpdate u = balancer.Update(Window((1, Counts()), (2, Counts())), b, b0);
            b = u.Bias;
            foreach (int layer in new[] { 1, 2 })
            {
                Assert.True(u.Drift[layer] <= 0.0123, $"window {w}, layer {layer}: drift {u.Drift[layer]:R}");
                Assert.Equal(b.Drift(b0, layer), u.Drift[layer]);
            }
        }

        Assert.Equal(200, b.Version);
    }

    [Fact]
    public void Each_update_is_the_next_version_and_leaves_its_inputs_unchanged()
    {
        GateBias b0 = Bias(0, (1, [0f, 0f]));
        var balancer = new GateBiasBalancer(0.001, 0.1);
        GateBias v1 = balancer.Update(Window((1, [5, 1])), b0, b0).Bias;
        GateBias v2 = balancer.Update(Window((1, [5, 1])), v1, b0).Bias;

        Assert.Equal(1, v1.Version);
        Assert.Equal(2, v2.Version);
        Assert.Equal([0f, 0f], b0.For(1).ToArray());
        Assert.Equal([-0.001f, 0.001f], v1.For(1).ToArray());
        Assert.Equal([-0.002f, 0.002f], v2.For(1).ToArray());
    }

    [Fact]
    public void Bad_settings_and_windows_are_refused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new GateBiasBalancer(0, 0.1));
        Assert.Throws<ArgumentOutOfRangeException>(() => new GateBiasBalancer(double.NaN, 0.1));
        Assert.Throws<ArgumentOutOfRangeException>(() => new GateBiasBalancer(0.001, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new GateBiasBalancer(0.001, double.PositiveInfinity));

        GateBias b0 = Bias(0, (1, [0f, 0f]));
        var balancer = new GateBiasBalancer(0.001, 0.1);
        Assert.Throws<ArgumentException>(() => balancer.Update(Window((1, [1, 2, 3])), b0, b0));
        Assert.Throws<ArgumentException>(() => balancer.Update(Window((1, [-1, 2])), b0, b0));
        Assert.Throws<ArgumentException>(() => balancer.Update(Window((1, [1, 2])), b0, Bias(0, (1, [0f, 0f, 0f]))));
    }
}
