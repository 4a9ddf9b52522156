namespace R1Orleans.Model;

/// <summary>
/// DeepSeek-V3's auxiliary-loss-free load balancing (§2.1.2) applied while serving: after a window of routed tokens,
/// each MoE layer's bias moves against its expert's load, b_i ← b_i − γ·sign(load_i − mean load), so overloaded
/// experts are chosen less and underloaded ones more; then every value is clamped to within
/// <see cref="MaxDrift"/> of the checkpoint's (|b_i − b₀_i| ≤ MaxDrift), bounding how far routing, and so the
/// model's outputs, may move from what was trained. The bias only chooses experts: combine weights stay the sigmoid
/// scores. A plain function of its inputs: the single-silo engine and the cluster's load balancer both call it.
/// </summary>
public sealed class GateBiasBalancer
{
    /// <summary>DeepSeek-V3's bias update speed γ (0.001 for the first 14.3T training tokens), and r1orleans-tiny's.</summary>
    public const double DefaultGamma = 0.001;

    public GateBiasBalancer(double gamma, double maxDrift)
    {
        if (!(gamma > 0) || !double.IsFinite(gamma))
        {
            throw new ArgumentOutOfRangeException(nameof(gamma), gamma, "the bias update speed γ must be a positive finite number");
        }

        if (!(maxDrift > 0) || !double.IsFinite(maxDrift))
        {
            throw new ArgumentOutOfRangeException(nameof(maxDrift), maxDrift, "the maximum drift must be a positive finite number");
        }

        Gamma = gamma;
        MaxDrift = maxDrift;
    }

    /// <summary>The bias update speed γ: how far one window moves each expert's bias.</summary>
    public double Gamma { get; }

    /// <summary>The most any expert's bias may differ from the checkpoint's.</summary>
    public double MaxDrift { get; }

    /// <summary>
    /// The next bias (version <paramref name="current"/>.Version + 1) from one window's routed tokens per (layer, expert):
    /// <paramref name="window"/>[layer][expert]. Every layer of <paramref name="current"/> is in the result; a layer with
    /// no tokens in the window (or no entry) keeps its values. <paramref name="checkpoint"/> is the trained bias that the
    /// drift is measured from and clamped to.
    /// </summary>
    public GateBiasUpdate Update(IReadOnlyDictionary<int, long[]> window, GateBias current, GateBias checkpoint)
    {
        ArgumentNullException.ThrowIfNull(window);
        ArgumentNullException.ThrowIfNull(current);
        ArgumentNullException.ThrowIfNull(checkpoint);
        var next = new Dictionary<int, float[]>();
        var imbalance = new Dictionary<int, double>();
        var tokens = new Dictionary<int, long>();
        foreach (int layer in current.Layers)
        {
            ReadOnlySpan<float> b = current.For(layer);
            ReadOnlySpan<float> b0 = checkpoint.For(layer);
            if (b0.Length != b.Length)
            {
                throw new ArgumentException($"layer {layer} has {b.Length} biases and {b0.Length} checkpoint biases");
            }

            float[] updated = b.ToArray();
            next[layer] = updated;
            long[] load = window.TryGetValue(layer, out long[]? l) ? l : [];
            if (load.Length != 0 && load.Length != b.Length)
            {
                throw new ArgumentException($"layer {layer}: the window counts {load.Length} experts, the gate has {b.Length}");
            }

            long sum = 0, max = 0;
            foreach (long v in load)
            {
                if (v < 0)
                {
                    throw new ArgumentException($"layer {layer}: a negative token count ({v}) in the window");
                }

                sum += v;
                max = Math.Max(max, v);
            }

            tokens[layer] = sum;
            imbalance[layer] = sum == 0 ? double.NaN : max / ((double)sum / load.Length);
            if (sum == 0)
            {
                continue;
            }

            for (int e = 0; e < updated.Length; e++)
            {
                // sign(load_e − mean) in integers: load_e·n against the layer's total, no rounding.
                int sign = ((long)load[e] * load.Length).CompareTo(sum);
                updated[e] = Clamp(b[e] - (float)(Gamma * sign), b0[e]);
            }
        }

        var bias = new GateBias(current.Version + 1, next);
        return new GateBiasUpdate(bias, imbalance, tokens, bias.Layers.ToDictionary(l => l, l => bias.Drift(checkpoint, l)));
    }

    /// <summary>The float nearest to value within [b0 − MaxDrift, b0 + MaxDrift], exactly (|result − b0| ≤ MaxDrift in double).</summary>
    private float Clamp(float value, float b0)
    {
        float lo = (float)(b0 - MaxDrift);
        float hi = (float)(b0 + MaxDrift);
        while ((double)hi - b0 > MaxDrift)
        {
            hi = MathF.BitDecrement(hi);
        }

        while (b0 - (double)lo > MaxDrift)
        {
            lo = MathF.BitIncrement(lo);
        }

        return Math.Clamp(value, lo, hi);
    }
}
