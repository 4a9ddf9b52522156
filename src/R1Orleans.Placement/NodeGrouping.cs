namespace R1Orleans.Placement;

/// <summary>
/// Members sorted by node then silo (<see cref="ClusterMember.CompareByNodeThenSilo"/>), grouped by node: which node each
/// member index is on, and each node's member indexes in order. What both planners start from.
/// </summary>
internal static class NodeGrouping
{
    public static (int[] NodeOf, int[][] NodeSilos) Of(ClusterMember[] sorted)
    {
        var nodeOf = new int[sorted.Length];
        var silos = new List<List<int>>();
        for (int m = 0; m < sorted.Length; m++)
        {
            if (m == 0 || sorted[m].Node != sorted[m - 1].Node)
            {
                silos.Add([]);
            }

            nodeOf[m] = silos.Count - 1;
            silos[^1].Add(m);
        }

        return (nodeOf, [.. silos.Select(s => s.ToArray())]);
    }
}
