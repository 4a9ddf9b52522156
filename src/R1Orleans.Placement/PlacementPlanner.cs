using R1Orleans.Checkpoint;

namespace R1Orleans.Placement;

/// <summary>
/// Computes the next <see cref="PlacementMap"/> from the members, the replica count (--expert-replicas) and the
/// previous map. EPLB's hierarchical packing without load figures (every expert counts the same):
/// <list type="number">
/// <item>the unit of placement is a whole expert group (group-aligned, the default when n_group &gt; 1) or a single
/// expert (n_group = 1, or <c>groupAligned: false</c>); each replica r of a unit goes to one node, nodes sharing the
/// units in proportion to their silo counts (equal nodes get equal counts), replicas of one unit on distinct nodes
/// while there are at least R nodes, else on as few shared nodes as possible (never more replicas on a node than it
/// has silos);</item>
/// <item>within a node, the experts of the node's units are spread over the node's silos, least-loaded first, the
/// replicas of one expert always on distinct silos.</item>
/// </list>
/// Deterministic: members are sorted by node then silo id (ordinal), units taken replica-major then in id order, ties
/// go to the lower node / silo; the same inputs give the same map. With a previous map, every (layer, expert, replica)
/// whose holder is still a member stays where it is (minimal movement: only the orphans of departed silos move, to
/// their unit's node if it survives; the one exception: with fewer nodes than R, a node left with fewer silos than the
/// copies of a unit it held hands the later replicas to another node); with <c>rebalance: true</c> assignments are kept only up to a balanced share, so a
/// joining silo takes the surplus. Fewer silos than R is an error (replicas need distinct silos).
/// </summary>
public sealed class PlacementPlanner
{
    public PlacementPlanner(ExpertLayout layout, int replicas = 1, bool groupAligned = true)
    {
        ArgumentNullException.ThrowIfNull(layout);
        ArgumentOutOfRangeException.ThrowIfLessThan(replicas, 1);
        Layout = layout;
        Replicas = replicas;
        GroupAligned = groupAligned;
    }

    public ExpertLayout Layout { get; }

    /// <summary>Holders per expert (--expert-replicas).</summary>
    public int Replicas { get; }

    /// <summary>Whether whole groups are packed per node (the default); false places single experts.</summary>
    public bool GroupAligned { get; }

    /// <summary>Units of placement per layer: n_group groups when group-aligned and grouped, else single experts.</summary>
    public int UnitsPerLayer => GroupAligned && Layout.Groups > 1 ? Layout.Groups : Layout.Experts;

    /// <summary>A planner for a config's MoE layers (the MTP layers' included when <paramref name="withMtp"/>).</summary>
    public static PlacementPlanner For(ModelConfig config, int replicas = 1, bool withMtp = true) =>
        new(ExpertLayout.From(config, withMtp), replicas);

    /// <summary>
    /// The next map: Version = previous.Version + 1 (1 without a previous), Epoch = max(previous.Epoch + 1,
    /// <paramref name="clusterGeneration"/>) (at least 1). Pass the membership version the plan was made from as the
    /// generation, so a planner with a stale view of the cluster makes a map with a lower epoch than a current one.
    /// </summary>
    public PlacementMap Plan(IEnumerable<ClusterMember> members, PlacementMap? previous = null, long clusterGeneration = 0, bool rebalance = false)
    {
        ArgumentNullException.ThrowIfNull(members);
        ClusterMember[] sorted = [.. members];
        Array.Sort(sorted, ClusterMember.CompareByNodeThenSilo);
        if (sorted.Length == 0)
        {
            throw new ArgumentException("cannot place experts on an empty cluster", nameof(members));
        }

        if (sorted.Length < Replicas)
        {
            throw new ArgumentException(
                $"--expert-replicas {Replicas} needs at least {Replicas} silos (replicas of an expert live on distinct silos); the cluster has {sorted.Length}",
                nameof(members));
        }

        for (int i = 1; i < sorted.Length; i++)
        {
            if (sorted[i].Silo == sorted[i - 1].Silo)
            {
                throw new ArgumentException($"silo {sorted[i].Silo} is listed twice", nameof(members));
            }
        }

        long version = previous is null ? 1 : previous.Version + 1;
        long epoch = Math.Max(previous is null ? 1 : previous.Epoch + 1, clusterGeneration);
        var state = new PlanState(this, sorted, previous is not null && previous.Layout.Experts == Layout.Experts ? previous : null, rebalance);
        int experts = Layout.Experts, r = Replicas;
        var holders = new int[Layout.MoeLayers.Count * experts * r];
        for (int li = 0; li < Layout.MoeLayers.Count; li++)
        {
            state.PlanLayer(Layout.MoeLayers[li], holders.AsSpan(li * experts * r, experts * r));
        }

        var offsets = new int[(Layout.MoeLayers.Count * experts) + 1];
        for (int i = 0; i < offsets.Length; i++)
        {
            offsets[i] = i * r;
        }

        return PlacementMap.FromArrays(version, epoch, sorted, Layout, offsets, holders);
    }

    /// <summary>The members, their nodes and the previous map's members translated, shared by every layer's plan.</summary>
    private sealed class PlanState
    {
        private readonly PlacementPlanner _planner;
        private readonly PlacementMap? _previous;
        private readonly bool _rebalance;
        private readonly int[] _nodeOf;
        private readonly int[][] _nodeSilos;
        private readonly int[] _previousToNew;

        public PlanState(PlacementPlanner planner, ClusterMember[] sorted, PlacementMap? previous, bool rebalance)
        {
            _planner = planner;
            _previous = previous;
            _rebalance = rebalance;
            (_nodeOf, _nodeSilos) = NodeGrouping.Of(sorted);
            _previousToNew = previous is null ? [] : new int[previous.MemberCount];
            var index = new Dictionary<SiloId, int>();
            for (int m = 0; m < sorted.Length; m++)
            {
                index[sorted[m].Silo] = m;
            }

            for (int p = 0; p < _previousToNew.Length; p++)
            {
                _previousToNew[p] = index.TryGetValue(previous!.Member(p).Silo, out int m) ? m : -1;
            }
        }

        private int Silos => _nodeOf.Length;

        private int NodeCount => _nodeSilos.Length;

        /// <summary>Fills holders[e * R + r] for one layer.</summary>
        public void PlanLayer(int layer, Span<int> holders)
        {
            int units = _planner.UnitsPerLayer, replicas = _planner.Replicas, nodes = NodeCount;
            int unitSize = _planner.Layout.Experts / units;
            bool hasPrevious = _previous is not null && _previous.HasLayer(layer);

            int PreviousHolder(int expert, int replica)
            {
                if (!hasPrevious)
                {
                    return -1;
                }

                ReadOnlySpan<int> h = _previous!.HolderIndexes(layer, expert);
                return replica < h.Length ? _previousToNew[h[replica]] : -1;
            }

            // Level 1: each (unit, replica) to a node.
            var unitNode = new int[units * replicas];
            Array.Fill(unitNode, -1);
            var unitOnNode = new int[units * nodes];
            var nodeLoad = new int[nodes];
            var nodeCap = new long[nodes];
            if (_rebalance)
            {
                // Exact quotas: each node floor(its share); the units left over go one each to the nodes that held the
                // most before (they keep them: least movement), so a newcomer gets its full share even when the
                // shares do not divide evenly (4 groups over 3 nodes: 2, 1, 1, never 2, 2, 0).
                var held = new int[nodes];
                for (int r = 0; r < replicas; r++)
                {
                    for (int u = 0; u < units; u++)
                    {
                        int p = PreviousHolder(u * unitSize, r);
                        if (p >= 0)
                        {
                            held[_nodeOf[p]]++;
                        }
                    }
                }

                long assigned = 0;
                for (int n = 0; n < nodes; n++)
                {
                    nodeCap[n] = (long)units * replicas * _nodeSilos[n].Length / Silos;
                    assigned += nodeCap[n];
                }

                int[] order = [.. Enumerable.Range(0, nodes).OrderByDescending(n => held[n]).ThenBy(n => n)];
                for (long left = (long)units * replicas - assigned, i = 0; left > 0; left--, i++)
                {
                    nodeCap[order[i % nodes]]++;
                }
            }
            else
            {
                Array.Fill(nodeCap, long.MaxValue);
            }

            for (int r = 0; r < replicas; r++)
            {
                for (int u = 0; u < units; u++)
                {
                    int n = -1;
                    bool mixed = false;
                    for (int e = u * unitSize; e < (u + 1) * unitSize && !mixed; e++)
                    {
                        int p = PreviousHolder(e, r);
                        if (p >= 0)
                        {
                            mixed = n >= 0 && n != _nodeOf[p];
                            n = _nodeOf[p];
                        }
                    }

                    bool distinctWanted = _rebalance && nodes >= replicas;
                    if (n >= 0 && !mixed && unitOnNode[(u * nodes) + n] < _nodeSilos[n].Length && nodeLoad[n] < nodeCap[n]
                        && (!distinctWanted || unitOnNode[(u * nodes) + n] == 0))
                    {
                        unitNode[(r * units) + u] = n;
                        unitOnNode[(u * nodes) + n]++;
                        nodeLoad[n]++;
                    }
                }
            }

            for (int r = 0; r < replicas; r++)
            {
                for (int u = 0; u < units; u++)
                {
                    if (unitNode[(r * units) + u] >= 0)
                    {
                        continue;
                    }

                    int best = -1;
                    for (int n = 0; n < nodes; n++)
                    {
                        if (unitOnNode[(u * nodes) + n] < _nodeSilos[n].Length && (best < 0 || NodeBefore(n, best)))
                        {
                            best = n;
                        }
                    }

                    unitNode[(r * units) + u] = best;
                    unitOnNode[(u * nodes) + best]++;
                    nodeLoad[best]++;

                    // Fewer copies of this unit first (distinct nodes), then the lower load per silo once it is added.
                    bool NodeBefore(int a, int b)
                    {
                        int ua = unitOnNode[(u * nodes) + a], ub = unitOnNode[(u * nodes) + b];
                        if (ua != ub)
                        {
                            return ua < ub;
                        }

                        long la = (long)(nodeLoad[a] + 1) * _nodeSilos[b].Length, lb = (long)(nodeLoad[b] + 1) * _nodeSilos[a].Length;
                        return la < lb;
                    }
                }
            }

            // Level 2: each (expert, replica) to a silo of its unit's node.
            holders.Fill(-1);
            var siloLoad = new int[Silos];
            var siloCap = new long[nodes];
            for (int n = 0; n < nodes; n++)
            {
                long onNode = (long)nodeLoad[n] * unitSize;
                siloCap[n] = _rebalance ? (onNode + _nodeSilos[n].Length - 1) / _nodeSilos[n].Length : long.MaxValue;
            }

            int experts = _planner.Layout.Experts;
            for (int r = 0; r < replicas; r++)
            {
                for (int e = 0; e < experts; e++)
                {
                    int n = unitNode[(r * units) + (e / unitSize)];
                    int p = PreviousHolder(e, r);
                    if (p >= 0 && _nodeOf[p] == n && siloLoad[p] < siloCap[n] && !Holds(holders, e, p))
                    {
                        holders[(e * replicas) + r] = p;
                        siloLoad[p]++;
                    }
                }
            }

            for (int r = 0; r < replicas; r++)
            {
                for (int e = 0; e < experts; e++)
                {
                    if (holders[(e * replicas) + r] >= 0)
                    {
                        continue;
                    }

                    int n = unitNode[(r * units) + (e / unitSize)];
                    int best = -1;
                    foreach (int s in _nodeSilos[n])
                    {
                        if (!Holds(holders, e, s) && (best < 0 || siloLoad[s] < siloLoad[best]))
                        {
                            best = s;
                        }
                    }

                    if (best < 0)
                    {
                        throw new InvalidOperationException($"no silo of node {n} is free for replica {r} of expert {e} of layer {layer}");
                    }

                    holders[(e * replicas) + r] = best;
                    siloLoad[best]++;
                }
            }

            bool Holds(Span<int> h, int expert, int silo) => h.Slice(expert * replicas, replicas).Contains(silo);
        }
    }
}
