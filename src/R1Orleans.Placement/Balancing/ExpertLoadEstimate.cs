namespace R1Orleans.Placement.Balancing;

/// <summary>
/// The load the planner balances: a rate (tokens per second, or any consistent unit) per (MoE layer, routed expert),
/// summed over every silo that reported. Immutable; layers absent from the estimate read as zero load.
/// </summary>
public sealed class ExpertLoadEstimate
{
    private readonly double[] _load;

    private ExpertLoadEstimate(ExpertLayout layout, double[] load, int silos)
    {
        Layout = layout;
        _load = load;
        Silos = silos;
    }

    public ExpertLayout Layout { get; }

    /// <summary>How many silos' statistics went into the estimate (fewer than the members when windows were lost).</summary>
    public int Silos { get; }

    /// <summary>Load over every layer and expert.</summary>
    public double Total => _load.Sum();

    /// <summary>An estimate from explicit loads: loads[li][e] for the li-th MoE layer of the layout (negative or non-finite values count as 0).</summary>
    public static ExpertLoadEstimate FromLoads(ExpertLayout layout, IReadOnlyList<IReadOnlyList<double>> loads, int silos = 1)
    {
        ArgumentNullException.ThrowIfNull(layout);
        ArgumentNullException.ThrowIfNull(loads);
        if (loads.Count != layout.MoeLayers.Count)
        {
            throw new ArgumentException($"loads name {loads.Count} layers, the layout has {layout.MoeLayers.Count}", nameof(loads));
        }

        var flat = new double[layout.MoeLayers.Count * layout.Experts];
        for (int li = 0; li < loads.Count; li++)
        {
            if (loads[li].Count != layout.Experts)
            {
                throw new ArgumentException($"loads of layer {layout.MoeLayers[li]} name {loads[li].Count} experts, the layout has {layout.Experts}", nameof(loads));
            }

            for (int e = 0; e < layout.Experts; e++)
            {
                flat[(li * layout.Experts) + e] = Clean(loads[li][e]);
            }
        }

        return new ExpertLoadEstimate(layout, flat, silos);
    }

    /// <summary>Every expert of every layer with zero load (nothing reported yet).</summary>
    public static ExpertLoadEstimate Empty(ExpertLayout layout)
    {
        ArgumentNullException.ThrowIfNull(layout);
        return new ExpertLoadEstimate(layout, new double[layout.MoeLayers.Count * layout.Experts], 0);
    }

    /// <summary>Takes over a flat array laid out layer index major (the aggregator's).</summary>
    internal static ExpertLoadEstimate FromFlat(ExpertLayout layout, double[] flat, int silos) => new(layout, flat, silos);

    /// <summary>The loads of one layer's experts; all zeros when the layer is not in the estimate.</summary>
    public ReadOnlySpan<double> Layer(int layer)
    {
        int li = IndexOfLayer(layer);
        return li < 0 ? new double[Layout.Experts] : _load.AsSpan(li * Layout.Experts, Layout.Experts);
    }

    public double Load(int layer, int expert)
    {
        int li = IndexOfLayer(layer);
        return li < 0 || (uint)expert >= (uint)Layout.Experts ? 0 : _load[(li * Layout.Experts) + expert];
    }

    internal static double Clean(double v) => double.IsFinite(v) && v > 0 ? v : 0;

    private int IndexOfLayer(int layer)
    {
        for (int li = 0; li < Layout.MoeLayers.Count; li++)
        {
            if (Layout.MoeLayers[li] == layer)
            {
                return li;
            }
        }

        return -1;
    }
}
