namespace R1Orleans.Placement.Balancing;

/// <summary>
/// EPLB's first step (units packed to nodes) when every expert keeps <c>R</c> copies for failover (--expert-replicas):
/// how many copies of each unit (an expert group, or a single expert) each node holds. As <see cref="PlacementPlanner"/>
/// decides: the copies of a unit go to distinct nodes while there are at least R nodes; with fewer, every node takes
/// as many as the others before any takes one more, never more than it has silos. That is, with L the lowest level at
/// which Σ min(silos, L) ≥ R, every node holds <see cref="Floor"/> = min(silos, L − 1) copies of every unit, and the
/// <see cref="Extra"/> copies left go to distinct nodes among those with at least L silos (all nodes when nodes ≥ R:
/// L = 1). Nodes take the extra copies by quota, in proportion to their silos (each node's total, floors included,
/// per silo as even as it can be, at most one extra copy of a unit per node). Units are packed heaviest first, each
/// extra copy to the node with room whose load per silo is lowest, except that a node whose room equals the units left
/// takes the unit: so the packing always completes. With R = 1 this is EPLB's group packing exactly (one copy of a unit,
/// quotas of one unit per node first, then the fewest per silo). Ties go to the lower node; deterministic.
/// </summary>
internal sealed class FailoverCopies
{
    private readonly int[] _siloCounts;

    public FailoverCopies(int units, int replicas, int[] siloCounts)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(replicas, 1);
        if (siloCounts.Sum() < replicas)
        {
            throw new ArgumentException($"{replicas} copies need {replicas} silos; there are {siloCounts.Sum()}", nameof(siloCounts));
        }

        Units = units;
        Replicas = replicas;
        _siloCounts = siloCounts;
        int nodes = siloCounts.Length, level = 1;
        while (siloCounts.Sum(s => Math.Min(s, level)) < replicas)
        {
            level++;
        }

        Floor = [.. siloCounts.Select(s => Math.Min(s, level - 1))];
        Extra = replicas - Floor.Sum();
        Eligible = [.. siloCounts.Select(s => s >= level)];

        // Quotas of extra copies: Σ = units · Extra, at most one of each unit per node, the lowest total per silo next.
        ExtraQuota = new int[nodes];
        for (long left = (long)units * Extra; left > 0; left--)
        {
            int best = -1;
            for (int n = 0; n < nodes; n++)
            {
                if (Eligible[n] && ExtraQuota[n] < units && (best < 0 || Total(n) * siloCounts[best] < Total(best) * siloCounts[n]))
                {
                    best = n;
                }
            }

            ExtraQuota[best]++;
        }

        long Total(int n) => ((long)units * Floor[n]) + ExtraQuota[n];
    }

    public int Units { get; }

    public int Replicas { get; }

    /// <summary>Copies of every unit on each node, whatever the load.</summary>
    public int[] Floor { get; }

    /// <summary>Copies of each unit placed by load, on distinct <see cref="Eligible"/> nodes.</summary>
    public int Extra { get; }

    /// <summary>The nodes that may take a unit's extra copy (those with at least L silos).</summary>
    public bool[] Eligible { get; }

    /// <summary>Extra copies each node takes over all units.</summary>
    public int[] ExtraQuota { get; }

    /// <summary>Unit copies each node holds: its floors and its extra quota.</summary>
    public long NodeCopies(int node) => ((long)Units * Floor[node]) + ExtraQuota[node];

    /// <summary>
    /// The copies of unit u on node n at [u · nodes + n], from the units' loads: heaviest unit first (ties to the lower
    /// unit); a copy counts 1/R of its unit's load.
    /// </summary>
    public int[] Pack(ReadOnlySpan<double> unitLoad)
    {
        int nodes = _siloCounts.Length, units = Units;
        double[] ul = unitLoad.ToArray();
        var copies = new int[units * nodes];
        var load = new double[nodes];
        var room = (int[])ExtraQuota.Clone();
        for (int u = 0; u < units; u++)
        {
            for (int n = 0; n < nodes; n++)
            {
                copies[(u * nodes) + n] = Floor[n];
                if (Floor[n] > 0)
                {
                    load[n] += ul[u] * Floor[n] / Replicas;
                }
            }
        }

        int[] order = [.. Enumerable.Range(0, units).OrderByDescending(u => ul[u]).ThenBy(u => u)];
        int unitsLeft = units;
        foreach (int u in order)
        {
            // A node with as much room as units left must take every one of them (else the packing cannot finish).
            int taken = 0;
            for (int n = 0; n < nodes; n++)
            {
                if (room[n] == unitsLeft)
                {
                    Take(u, n);
                    taken++;
                }
            }

            for (; taken < Extra; taken++)
            {
                int best = -1;
                for (int n = 0; n < nodes; n++)
                {
                    if (room[n] > 0 && copies[(u * nodes) + n] == Floor[n] && (best < 0 || load[n] * _siloCounts[best] < load[best] * _siloCounts[n]))
                    {
                        best = n;
                    }
                }

                Take(u, best);
            }

            unitsLeft--;
        }

        return copies;

        void Take(int u, int n)
        {
            copies[(u * nodes) + n]++;
            room[n]--;
            load[n] += Replicas == 1 ? ul[u] : ul[u] / Replicas;
        }
    }
}
