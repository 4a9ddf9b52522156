using R1Orleans.Model;

namespace R1Orleans.Placement;

/// <summary>
/// Turns the gate's unchanged choice (an <see cref="ExpertRouting"/>) into a <see cref="DispatchPlan"/> for one rank:
/// for every (token, slot) it picks ONE holder among the expert's replicas so that one token's experts span at most
/// <see cref="MaxNodesPerToken"/> nodes. Per token: replicas on the rank's own silo first (they run in place), then
/// the rank's own node if it holds any of the token's experts, then replicas on nodes already chosen for the token,
/// then new nodes greedily (the node covering most of the remaining slots, ties to the lower total
/// <see cref="IReplicaPreference"/> cost, then the lower node index). With a group-aligned map this never exceeds
/// topk_group nodes; a token that still spans more nodes than the limit is counted in
/// <see cref="DispatchPlan.Violations"/> and dispatched anyway: the experts are always exactly the gate's.
/// Not thread-safe (it keeps scratch buffers): one router per thread or grain activation.
/// </summary>
public sealed class ExpertRouter
{
    public const int DefaultMaxNodesPerToken = 4;

    private readonly PlacementMap _map;
    private readonly IReplicaPreference _preference;
    private readonly int _selfMember;
    private readonly int _selfNode;
    private readonly int[] _nodeMark;
    private readonly int[] _nodeCover;
    private readonly long[] _nodeCost;
    private readonly int[] _keyStart;
    private int _marker;

    public ExpertRouter(PlacementMap map, ClusterMember self, int maxNodesPerToken = DefaultMaxNodesPerToken, IReplicaPreference? preference = null)
    {
        ArgumentNullException.ThrowIfNull(map);
        ArgumentNullException.ThrowIfNull(self);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxNodesPerToken, 1);
        _map = map;
        Self = self;
        MaxNodesPerToken = maxNodesPerToken;
        _preference = preference ?? FirstReplicaPreference.Instance;
        _selfMember = map.IndexOf(self.Silo);
        _selfNode = map.IndexOf(self.Node);
        _nodeMark = new int[map.NodeCount];
        _nodeCover = new int[map.NodeCount];
        _nodeCost = new long[map.NodeCount];
        _keyStart = new int[(map.MemberCount * map.Layout.Experts) + 1];
    }

    public PlacementMap Map => _map;

    public ClusterMember Self { get; }

    public int MaxNodesPerToken { get; }

    /// <summary>
    /// Plans one MoE layer's dispatch. Pass the previous step's plan as <paramref name="reuse"/> to route without
    /// allocating; it is overwritten and returned.
    /// </summary>
    public DispatchPlan Route(int layer, ExpertRouting routing, DispatchPlan? reuse = null)
    {
        ArgumentNullException.ThrowIfNull(routing);
        if (!_map.HasLayer(layer))
        {
            throw new ArgumentOutOfRangeException(nameof(layer), $"layer {layer} is not a MoE layer of placement {_map.Stamp}");
        }

        int tokens = routing.Tokens, k = routing.K, experts = _map.Layout.Experts;
        if (tokens < 0 || k < 1 || routing.TopkIds.Length != tokens * k)
        {
            throw new ArgumentException($"routing of {tokens} tokens x {k} slots carries {routing.TopkIds.Length} expert ids", nameof(routing));
        }

        foreach (int e in routing.TopkIds)
        {
            if ((uint)e >= (uint)experts)
            {
                throw new ArgumentOutOfRangeException(nameof(routing), $"routing names expert {e}, the layer has {experts}");
            }
        }

        DispatchPlan plan = reuse ?? new DispatchPlan();
        plan.Reset(_map, layer, tokens, k);
        Span<int> holders = plan.SlotHolders;
        Span<int> tokenNodes = plan.TokenNodes;
        int violations = 0;
        for (int t = 0; t < tokens; t++)
        {
            int nodes = RouteToken(layer, t, routing.Ids(t), holders.Slice(t * k, k));
            tokenNodes[t] = nodes;
            if (nodes > MaxNodesPerToken)
            {
                violations++;
            }
        }

        plan.SetViolations(violations);
        plan.Layout(routing.TopkIds, _keyStart, _selfMember);
        return plan;
    }

    /// <summary>Chooses a holder (member index) for each slot of one token; returns the nodes used.</summary>
    private int RouteToken(int layer, int token, ReadOnlySpan<int> ids, Span<int> chosen)
    {
        if (++_marker == int.MaxValue)
        {
            Array.Clear(_nodeMark);
            _marker = 1;
        }

        int used = 0, remaining = ids.Length;
        chosen.Fill(-1);

        // 1. Replicas on the rank's own silo run in place.
        if (_selfMember >= 0)
        {
            for (int k = 0; k < ids.Length; k++)
            {
                if (_map.HolderIndexes(layer, ids[k]).Contains(_selfMember))
                {
                    chosen[k] = _selfMember;
                    remaining--;
                }
            }

            if (remaining < ids.Length)
            {
                used += Mark(_selfNode);
            }
        }

        // 2. The rank's own node, when it holds any remaining expert (no network hop).
        if (remaining > 0 && _selfNode >= 0 && _nodeMark[_selfNode] != _marker)
        {
            for (int k = 0; k < ids.Length && _nodeMark[_selfNode] != _marker; k++)
            {
                if (chosen[k] < 0 && OnNode(layer, ids[k], _selfNode))
                {
                    used += Mark(_selfNode);
                }
            }
        }

        while (true)
        {
            // 3. Slots that a node already chosen can take.
            for (int k = 0; k < ids.Length; k++)
            {
                if (chosen[k] < 0)
                {
                    int best = BestOnChosenNodes(layer, token, ids[k]);
                    if (best >= 0)
                    {
                        chosen[k] = best;
                        remaining--;
                    }
                }
            }

            if (remaining == 0)
            {
                return used;
            }

            // 4. A new node: the one covering most remaining slots, then the cheaper replicas, then the lower index.
            int next = GreedyNextNode(layer, token, ids, chosen);
            used += Mark(next);
        }
    }

    private int Mark(int node)
    {
        if (node < 0 || _nodeMark[node] == _marker)
        {
            return 0;
        }

        _nodeMark[node] = _marker;
        return 1;
    }

    private bool OnNode(int layer, int expert, int node)
    {
        foreach (int m in _map.HolderIndexes(layer, expert))
        {
            if (_map.NodeOf(m) == node)
            {
                return true;
            }
        }

        return false;
    }

    private int BestOnChosenNodes(int layer, int token, int expert)
    {
        ReadOnlySpan<int> h = _map.HolderIndexes(layer, expert);
        int best = -1;
        bool bestLocalNode = false;
        int bestCost = 0;
        for (int r = 0; r < h.Length; r++)
        {
            int node = _map.NodeOf(h[r]);
            if (_nodeMark[node] != _marker)
            {
                continue;
            }

            bool localNode = node == _selfNode;
            int cost = _preference.Cost(layer, token, expert, r);
            if (best < 0 || (localNode && !bestLocalNode) || (localNode == bestLocalNode && cost < bestCost))
            {
                best = h[r];
                bestLocalNode = localNode;
                bestCost = cost;
            }
        }

        return best;
    }

    private int GreedyNextNode(int layer, int token, ReadOnlySpan<int> ids, ReadOnlySpan<int> chosen)
    {
        Array.Clear(_nodeCover);
        Array.Clear(_nodeCost);
        for (int k = 0; k < ids.Length; k++)
        {
            if (chosen[k] >= 0)
            {
                continue;
            }

            ReadOnlySpan<int> h = _map.HolderIndexes(layer, ids[k]);
            for (int r = 0; r < h.Length; r++)
            {
                // The slot counts once per node, at its cheapest replica there.
                int node = _map.NodeOf(h[r]);
                bool seen = false;
                for (int q = 0; q < r && !seen; q++)
                {
                    seen = _map.NodeOf(h[q]) == node;
                }

                if (seen)
                {
                    continue;
                }

                int cost = _preference.Cost(layer, token, ids[k], r);
                for (int q = r + 1; q < h.Length; q++)
                {
                    if (_map.NodeOf(h[q]) == node)
                    {
                        cost = Math.Min(cost, _preference.Cost(layer, token, ids[k], q));
                    }
                }

                _nodeCover[node]++;
                _nodeCost[node] += cost;
            }
        }

        int best = -1;
        for (int n = 0; n < _nodeCover.Length; n++)
        {
            if (_nodeCover[n] > 0
                && (best < 0 || _nodeCover[n] > _nodeCover[best] || (_nodeCover[n] == _nodeCover[best] && _nodeCost[n] < _nodeCost[best])))
            {
                best = n;
            }
        }

        return best;
    }
}
