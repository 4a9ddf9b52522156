namespace R1Orleans.Placement;

/// <summary>A silo of the cluster and the node (machine) it runs on.</summary>
public sealed record ClusterMember(SiloId Silo, NodeName Node)
{
    public ClusterMember(string silo, string node)
        : this(new SiloId(silo), new NodeName(node))
    {
    }

    /// <summary>The planner's canonical order: by node, then by silo id (both ordinal).</summary>
    public static int CompareByNodeThenSilo(ClusterMember? a, ClusterMember? b)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        int byNode = a.Node.CompareTo(b.Node);
        return byNode != 0 ? byNode : a.Silo.CompareTo(b.Silo);
    }

    public override string ToString() => $"{Silo}@{Node}";
}
