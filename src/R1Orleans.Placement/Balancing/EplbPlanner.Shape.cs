namespace R1Orleans.Placement.Balancing;

/// <summary>One layer's EPLB plan over the cluster's shape (see <see cref="EplbPlanner"/>).</summary>
public sealed partial class EplbPlanner
{
    /// <summary>The sorted members grouped by node, the policy that applies to them, and one layer's planning.</summary>
    private sealed class Shape
    {
        private readonly ExpertLayout _layout;
        private readonly int _replicas;
        private readonly int[] _nodeOf;
        private readonly int[][] _nodeSilos;
        private readonly int[] _siloCounts;
        private readonly FailoverCopies? _copies;

        public Shape(EplbPlanner planner, ClusterMember[] sorted)
        {
            _layout = planner.Layout;
            _replicas = planner.MinReplicas;
            if (sorted.Length < _replicas)
            {
                throw new ArgumentException(
                    $"--expert-replicas {_replicas} needs at least {_replicas} silos (copies of an expert live on distinct silos); the cluster has {sorted.Length}",
                    "members");
            }

            (_nodeOf, _nodeSilos) = NodeGrouping.Of(sorted);
            _siloCounts = [.. _nodeSilos.Select(s => s.Length)];
            Policy = planner.Policy == EplbPolicy.Hierarchical && _layout.Groups > 1 && _layout.Groups >= _nodeSilos.Length
                ? EplbPolicy.Hierarchical
                : EplbPolicy.Global;

            // Units to nodes first: whole groups (hierarchical), or single experts when the global policy must still
            // keep every expert's copies on distinct nodes (R > 1). The global policy with one copy ignores nodes.
            _copies = Policy == EplbPolicy.Hierarchical ? new FailoverCopies(_layout.Groups, _replicas, _siloCounts)
                : _replicas > 1 ? new FailoverCopies(_layout.Experts, _replicas, _siloCounts)
                : null;
        }

        public EplbPolicy Policy { get; }

        private int Silos => _nodeOf.Length;

        private int UnitSize => Policy == EplbPolicy.Hierarchical ? _layout.ExpertsPerGroup : 1;

        /// <summary>ceil((experts · R + redundant) / silos), raised until every node's copies of whole units fit its slots.</summary>
        public int SlotsPerSilo(int redundant)
        {
            int slots = (int)((((long)_layout.Experts * _replicas) + redundant + Silos - 1) / Silos);
            for (int n = 0; _copies is not null && n < _siloCounts.Length; n++)
            {
                long experts = _copies.NodeCopies(n) * UnitSize;
                slots = (int)Math.Max(slots, (experts + _siloCounts[n] - 1) / _siloCounts[n]);
            }

            return slots;
        }

        /// <summary>The holders (member indexes) of every expert of one layer, previous holders first in their order.</summary>
        public int[][] PlanLayer(ReadOnlySpan<double> load, int slotsPerSilo, int[][]? previous)
        {
            int experts = _layout.Experts;
            var w = new double[experts];
            for (int e = 0; e < experts; e++)
            {
                w[e] = ExpertLoadEstimate.Clean(load[e]);
            }

            var holders = new List<int>[experts];
            for (int e = 0; e < experts; e++)
            {
                holders[e] = [];
            }

            if (_copies is { } unitCopies)
            {
                int size = UnitSize, units = experts / size, nodes = _nodeSilos.Length;
                var unitLoad = new double[units];
                for (int e = 0; e < experts; e++)
                {
                    unitLoad[e / size] += w[e];
                }

                int[] copies = unitCopies.Pack(unitLoad);
                if (previous is not null)
                {
                    RelabelNodes(copies, previous);
                }

                var local = new double[experts];
                for (int n = 0; n < nodes; n++)
                {
                    // The node's share of each of its experts' load: its copies of the unit over R.
                    int[] onNode = [.. Enumerable.Range(0, experts).Where(e => copies[(e / size * nodes) + n] > 0)];
                    int[] mandatory = [.. onNode.Select(e => copies[(e / size * nodes) + n])];
                    foreach (int e in onNode)
                    {
                        local[e] = _replicas == 1 ? w[e] : w[e] * copies[(e / size * nodes) + n] / _replicas;
                    }

                    int[] replicated = ExpertPacking.Replicate(onNode, local, slotsPerSilo * _siloCounts[n], _siloCounts[n], mandatory);
                    List<int>[] bins = ExpertPacking.PackReplicas(onNode, replicated, local, _siloCounts[n], slotsPerSilo, experts);
                    Assign(bins, _nodeSilos[n], previous, holders);
                }
            }
            else
            {
                int[] all = [.. Enumerable.Range(0, experts)];
                int[] copies = ExpertPacking.Replicate(all, w, slotsPerSilo * Silos, Silos);
                List<int>[] bins = ExpertPacking.PackReplicas(all, copies, w, Silos, slotsPerSilo, experts);
                Assign(bins, [.. Enumerable.Range(0, Silos)], previous, holders);
            }

            var result = new int[experts][];
            for (int e = 0; e < experts; e++)
            {
                // Replica order: the previous holders that remain, in their order, then the new ones by member index.
                int[] was = previous?[e] ?? [];
                List<int> now = holders[e];
                result[e] = [.. was.Where(now.Contains), .. now.Where(m => !was.Contains(m)).Order()];
            }

            return result;
        }

        /// <summary>
        /// Whether a layer's holders keep every expert's R copies (on min(R, nodes) nodes), respect the slots per silo and,
        /// for the hierarchical policy, keep each group whole on every node that holds any of it, on at most min(R, nodes) nodes.
        /// </summary>
        public bool Fits(int[][] holders, int slotsPerSilo)
        {
            int spread = Math.Min(_replicas, _nodeSilos.Length);
            var count = new int[Silos];
            foreach (int[] h in holders)
            {
                if (h.Length < _replicas || (spread > 1 && NodesOf(h).Length < spread))
                {
                    return false;
                }

                foreach (int m in h)
                {
                    if (++count[m] > slotsPerSilo)
                    {
                        return false;
                    }
                }
            }

            if (Policy == EplbPolicy.Hierarchical)
            {
                int size = _layout.ExpertsPerGroup;
                for (int g = 0; g < _layout.Groups; g++)
                {
                    int[] nodes = NodesOf(holders[g * size]);
                    if (nodes.Length > spread)
                    {
                        return false;
                    }

                    for (int e = (g * size) + 1; e < (g + 1) * size; e++)
                    {
                        if (!NodesOf(holders[e]).AsSpan().SequenceEqual(nodes))
                        {
                            return false;
                        }
                    }
                }
            }

            return true;
        }

        private int[] NodesOf(int[] holders) => [.. holders.Select(m => _nodeOf[m]).Distinct().Order()];

        /// <summary>A layer's predicted max/mean silo load with balanced replica weights.</summary>
        public double MaxOverMean(int[][] holders, ReadOnlySpan<double> load) =>
            ReplicaWeightSolver.MaxOverMean(ReplicaWeightSolver.Solve(holders, load, Silos, new double[holders.Length][]));

        /// <summary>Puts the bins of interchangeable silos on the silos that held most of their experts before.</summary>
        private static void Assign(List<int>[] bins, int[] silos, int[][]? previous, List<int>[] holders)
        {
            int k = bins.Length;
            int[] target = [.. Enumerable.Range(0, k)];
            if (previous is not null)
            {
                var overlap = new int[k, k];
                for (int b = 0; b < k; b++)
                {
                    foreach (int e in bins[b])
                    {
                        for (int t = 0; t < k; t++)
                        {
                            if (previous[e].Contains(silos[t]))
                            {
                                overlap[b, t]++;
                            }
                        }
                    }
                }

                target = ExpertPacking.MatchByOverlap(overlap);
            }

            for (int b = 0; b < k; b++)
            {
                foreach (int e in bins[b])
                {
                    holders[e].Add(silos[target[b]]);
                }
            }
        }

        /// <summary>
        /// Swaps the unit copies of interchangeable nodes (same silo count and quota) so that each set lands where most
        /// of its experts were before.
        /// </summary>
        private void RelabelNodes(int[] copies, int[][] previous)
        {
            int nodes = _nodeSilos.Length, size = UnitSize, units = _layout.Experts / size;
            var done = new bool[nodes];
            for (int first = 0; first < nodes; first++)
            {
                if (done[first])
                {
                    continue;
                }

                int[] same = [.. Enumerable.Range(first, nodes - first).Where(n => _siloCounts[n] == _siloCounts[first] && _copies!.ExtraQuota[n] == _copies.ExtraQuota[first])];
                foreach (int n in same)
                {
                    done[n] = true;
                }

                if (same.Length < 2)
                {
                    continue;
                }

                var overlap = new int[same.Length, same.Length];
                for (int u = 0; u < units; u++)
                {
                    for (int b = 0; b < same.Length; b++)
                    {
                        if (copies[(u * nodes) + same[b]] == 0)
                        {
                            continue;
                        }

                        for (int e = u * size; e < (u + 1) * size; e++)
                        {
                            for (int t = 0; t < same.Length; t++)
                            {
                                if (previous[e].Any(m => _nodeOf[m] == same[t]))
                                {
                                    overlap[b, t]++;
                                }
                            }
                        }
                    }
                }

                int[] target = ExpertPacking.MatchByOverlap(overlap);
                for (int u = 0; u < units; u++)
                {
                    int[] was = [.. same.Select(n => copies[(u * nodes) + n])];
                    for (int b = 0; b < same.Length; b++)
                    {
                        copies[(u * nodes) + same[target[b]]] = was[b];
                    }
                }
            }
        }
    }
}
