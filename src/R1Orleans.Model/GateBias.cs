using System.Collections.Immutable;

namespace R1Orleans.Model;

/// <summary>
/// One version of every MoE layer's gate bias (e_score_correction_bias): what the gates of a forward step route with.
/// Immutable, so a step that took it sees the same values from its first layer to its last while a newer version is
/// set. Version 0 is the checkpoint's own bias; the online load balancer's versions count up from 1
/// (<see cref="GateBiasBalancer"/>; DeepSeek-V3's auxiliary-loss-free balancing, §2.1.2).
/// </summary>
public sealed class GateBias
{
    private readonly ImmutableSortedDictionary<int, ImmutableArray<float>> _layers;

    /// <summary>Copies <paramref name="layers"/> (MoE layer → one value per routed expert).</summary>
    public GateBias(long version, IReadOnlyDictionary<int, float[]> layers)
    {
        ArgumentNullException.ThrowIfNull(layers);
        ArgumentOutOfRangeException.ThrowIfNegative(version);
        Version = version;
        var builder = ImmutableSortedDictionary.CreateBuilder<int, ImmutableArray<float>>();
        foreach ((int layer, float[] values) in layers)
        {
            ArgumentNullException.ThrowIfNull(values, nameof(layers));
            int bad = Array.FindIndex(values, v => !float.IsFinite(v));
            if (bad >= 0)
            {
                throw new ArgumentException($"gate bias version {version}, layer {layer}: expert {bad} is {values[bad]}; every value must be finite", nameof(layers));
            }

            builder.Add(layer, [.. values]);
        }

        _layers = builder.ToImmutable();
    }

    /// <summary>0 for the checkpoint's bias; each new online bias has a larger one.</summary>
    public long Version { get; }

    /// <summary>The MoE layers this bias covers, in order.</summary>
    public IEnumerable<int> Layers => _layers.Keys;

    /// <summary>The number of layers covered.</summary>
    public int LayerCount => _layers.Count;

    public bool Covers(int layer) => _layers.ContainsKey(layer);

    /// <summary>One value per routed expert of <paramref name="layer"/>.</summary>
    public ReadOnlySpan<float> For(int layer) =>
        _layers.TryGetValue(layer, out ImmutableArray<float> values)
            ? values.AsSpan()
            : throw new ArgumentException($"gate bias version {Version} has no values for MoE layer {layer} (it covers {string.Join(", ", _layers.Keys)})", nameof(layer));

    /// <summary>A copy of every layer's values (to change and make the next version from).</summary>
    public Dictionary<int, float[]> ToDictionary() => _layers.ToDictionary(p => p.Key, p => p.Value.ToArray());

    /// <summary>max over experts of |this − reference| on <paramref name="layer"/> (in double: the drift of an online bias from the checkpoint's).</summary>
    public double Drift(GateBias reference, int layer)
    {
        ArgumentNullException.ThrowIfNull(reference);
        ReadOnlySpan<float> b = For(layer);
        ReadOnlySpan<float> b0 = reference.For(layer);
        if (b.Length != b0.Length)
        {
            throw new ArgumentException($"layer {layer} has {b.Length} values in version {Version} and {b0.Length} in version {reference.Version}");
        }

        double max = 0;
        for (int e = 0; e < b.Length; e++)
        {
            max = Math.Max(max, Math.Abs((double)b[e] - b0[e]));
        }

        return max;
    }
}
