using R1Orleans.Model;

namespace R1Orleans.Grains.Balancing;

/// <summary>
/// One version of every MoE layer's gate bias (<see cref="GateBias"/>) on the wire: what the load balancer pushes to
/// every silo's rank in bias mode (<c>--online-bias</c> on a cluster), and what a rank reports it routes with.
/// </summary>
[GenerateSerializer, Immutable, Alias("R1Orleans.GateBiasDto")]
public sealed record GateBiasDto(
    [property: Id(0)] long Version,
    [property: Id(1)] int[] Layers,
    [property: Id(2)] float[][] Values)
{
    public static GateBiasDto From(GateBias bias)
    {
        ArgumentNullException.ThrowIfNull(bias);
        int[] layers = [.. bias.Layers];
        return new(bias.Version, layers, [.. layers.Select(l => bias.For(l).ToArray())]);
    }

    /// <summary>The bias; <see cref="ArgumentException"/> when the arrays disagree or a value is not finite.</summary>
    public GateBias ToGateBias()
    {
        if (Layers is null || Values is null || Values.Length != Layers.Length)
        {
            throw new ArgumentException($"a gate bias on the wire has {Layers?.Length ?? 0} layers and {Values?.Length ?? 0} value arrays");
        }

        var layers = new Dictionary<int, float[]>();
        for (int i = 0; i < Layers.Length; i++)
        {
            if (!layers.TryAdd(Layers[i], Values[i]))
            {
                throw new ArgumentException($"gate bias version {Version} names layer {Layers[i]} twice");
            }
        }

        return new GateBias(Version, layers);
    }
}
