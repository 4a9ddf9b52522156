namespace R1Orleans.Placement.Balancing;

/// <summary>One layer's EPLB plan over the cluster's shape (see <see cref="EplbPlanner"/>).</summary>
public sealed partial class EplbPlanner
{
    /// <summary>The sorted members grouped by node, the policy that applies to them, and one layer's planning.</summary>
    private sealed class Shape
    {
        private readonly ExpertLayout _layout;
        private readonly int[] _nodeOf;
        private readonly int[][] _nodeSilos;
        private readonly int[] _siloCounts;
        private readonly int[] _quotas;

        public Shape(EplbPlanner planner, ClusterMember[] sorted)
        {
            _layout = planner.Layout;
            (_nodeOf, _nodeSilos) = NodeGrouping.Of(sorted);
            _siloCounts = [.. _nodeSilos.Select(s => s.Length)];
            Policy = planner.Policy == EplbPolicy.Hierarchical && _layout.Groups > 1 && _layout.Groups >= _nodeSilos.Length
                ? EplbPolicy.Hierarchical
                : EplbPolicy.Global;
            _quotas = Policy == EplbPolicy.Hierarchical ? ExpertPacking.GroupQuotas(_layout.Groups, _siloCounts) : [];
        }

        public EplbPolicy Policy { get; }

        private int Silos => _nodeOf.Length;

        /// <summary>ceil((experts + redundant) / silos), raised until every node's quota of whole groups fits its slots.</summary>
        public int SlotsPerSilo(int redundant)
        {
            int slots = (_layout.Experts + redundant + Silos - 1) / Silos;
            for (int n = 0; n < _quotas.Length; n++)
            {
                int experts = _quotas[n] * _layout.ExpertsPerGroup;
                slots = Math.Max(slots, (experts + _siloCounts[n] - 1) / _siloCounts[n]);
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

            if (Policy == EplbPolicy.Hierarchical)
            {
                int groups = _layout.Groups, size = _layout.ExpertsPerGroup;
                var groupLoad = new double[groups];
                for (int e = 0; e < experts; e++)
                {
                    groupLoad[e / size] += w[e];
                }

                int[] nodeOfGroup = ExpertPacking.PackGroups(groupLoad, _quotas, _siloCounts);
                if (previous is not null)
                {
                    RelabelNodes(nodeOfGroup, previous);
                }

                for (int n = 0; n < _nodeSilos.Length; n++)
                {
                    int[] onNode = [.. Enumerable.Range(0, experts).Where(e => nodeOfGroup[e / size] == n)];
                    int[] copies = ExpertPacking.Replicate(onNode, w, slotsPerSilo * _siloCounts[n], _siloCounts[n]);
                    List<int>[] bins = ExpertPacking.PackReplicas(onNode, copies, w, _siloCounts[n], slotsPerSilo, experts);
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

        /// <summary>Whether a layer's holders respect the slots per silo and, for the hierarchical policy, keep groups whole per node.</summary>
        public bool Fits(int[][] holders, int slotsPerSilo)
        {
            var count = new int[Silos];
            foreach (int[] h in holders)
            {
                if (h.Length == 0)
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
                    int node = _nodeOf[holders[g * size][0]];
                    for (int e = g * size; e < (g + 1) * size; e++)
                    {
                        if (holders[e].Any(m => _nodeOf[m] != node))
                        {
                            return false;
                        }
                    }
                }
            }

            return true;
        }

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
        /// Swaps the group sets of interchangeable nodes (same silo count and quota) so that each lands where most of
        /// its experts were before.
        /// </summary>
        private void RelabelNodes(int[] nodeOfGroup, int[][] previous)
        {
            int nodes = _nodeSilos.Length, size = _layout.ExpertsPerGroup;
            var done = new bool[nodes];
            for (int first = 0; first < nodes; first++)
            {
                if (done[first])
                {
                    continue;
                }

                int[] same = [.. Enumerable.Range(first, nodes - first).Where(n => _siloCounts[n] == _siloCounts[first] && _quotas[n] == _quotas[first])];
                foreach (int n in same)
                {
                    done[n] = true;
                }

                if (same.Length < 2)
                {
                    continue;
                }

                var overlap = new int[same.Length, same.Length];
                for (int g = 0; g < nodeOfGroup.Length; g++)
                {
                    int b = Array.IndexOf(same, nodeOfGroup[g]);
                    if (b < 0)
                    {
                        continue;
                    }

                    for (int e = g * size; e < (g + 1) * size; e++)
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

                int[] target = ExpertPacking.MatchByOverlap(overlap);
                for (int g = 0; g < nodeOfGroup.Length; g++)
                {
                    int b = Array.IndexOf(same, nodeOfGroup[g]);
                    if (b >= 0)
                    {
                        nodeOfGroup[g] = same[target[b]];
                    }
                }
            }
        }
    }
}
