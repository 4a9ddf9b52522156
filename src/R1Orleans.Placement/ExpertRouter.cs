using R1Orleans.Model;

namespace R1Orleans.Placement;

/// <summary>
/// Turns the gate's unchanged choice (an <see cref="ExpertRouting"/>) into a <see cref="DispatchPlan"/> for one rank:
/// for every (token, slot) it picks ONE holder among the expert's replicas so that one token's experts span at most
/// <see cref="MaxNodesPerToken"/> nodes. Per token: experts with a single holder first (no choice, their nodes are
/// needed anyway), then replicas on the rank's own silo (they run in place without a copy; skipped, as is the preference for the rank's
/// node among chosen nodes, when <see cref="IReplicaPreference.PreferLocalReplicas"/> is false), then the rank's own node if it holds any of the token's experts, then replicas on nodes already chosen for the token,
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
    private readonly int[] _nodeCost;
    private readonly int[] _offsets;
    private readonly int[] _holders;
    private readonly int[] _memberNode;
    private readonly int[] _expertStart;
    private readonly int[] _memberStart;
    private readonly int[] _touched;
    private readonly bool _firstReplica;
    private readonly bool _preferLocal;
    private readonly int _maxReplicas;
    private int[] _byExpert = [];
    private int[] _slotStart = [];
    private int[] _candidateMember = [];
    private int[] _candidateNode = [];
    private int[] _candidateCost = [];
    private int _marker;
    private int _slotBase;

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
        _selfNode = _selfMember >= 0 ? map.NodeOf(_selfMember) : map.IndexOf(self.Node);
        _nodeMark = new int[map.NodeCount];
        _nodeCover = new int[map.NodeCount];
        _nodeCost = new int[map.NodeCount];
        _offsets = map.HolderOffsets;
        _holders = map.HolderMembers;
        _memberNode = map.MemberNodes;
        _expertStart = new int[map.Layout.Experts + 1];
        _memberStart = new int[map.MemberCount + 1];
        _touched = new int[map.NodeCount];
        _firstReplica = _preference is FirstReplicaPreference;
        _preferLocal = _preference.PreferLocalReplicas;
        for (int slot = 0; slot + 1 < _offsets.Length; slot++)
        {
            _maxReplicas = Math.Max(_maxReplicas, _offsets[slot + 1] - _offsets[slot]);
        }
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

        _slotBase = _map.LayerIndex(layer) * experts;
        if (_slotStart.Length < k + 1)
        {
            _slotStart = new int[k + 1];
            _candidateMember = new int[k * _maxReplicas];
            _candidateNode = new int[k * _maxReplicas];
            _candidateCost = new int[k * _maxReplicas];
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
        if (_byExpert.Length < routing.TopkIds.Length)
        {
            _byExpert = new int[Math.Max(routing.TopkIds.Length, _byExpert.Length * 2)];
        }

        plan.Layout(routing.TopkIds, _expertStart, _memberStart, _byExpert, _selfMember);
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

        // Every slot's candidates (member, node, preference cost), replica order, once per token.
        int candidates = 0;
        for (int k = 0; k < ids.Length; k++)
        {
            _slotStart[k] = candidates;
            ReadOnlySpan<int> h = Holders(ids[k]);
            for (int r = 0; r < h.Length; r++, candidates++)
            {
                _candidateMember[candidates] = h[r];
                _candidateNode[candidates] = _memberNode[h[r]];
                _candidateCost[candidates] = _firstReplica ? r : _preference.Cost(layer, token, ids[k], r);
            }
        }

        _slotStart[ids.Length] = candidates;
        int used = 0, remaining = ids.Length;

        // 0. An expert with one holder leaves no choice: its node is needed anyway.
        for (int k = 0; k < ids.Length; k++)
        {
            chosen[k] = -1;
            if (_slotStart[k + 1] - _slotStart[k] == 1)
            {
                chosen[k] = _candidateMember[_slotStart[k]];
                remaining--;
                used += Mark(_candidateNode[_slotStart[k]]);
            }
        }

        // 1. Replicas on the rank's own silo run in place (unless the preference must be honoured: then step 2 still
        // marks the rank's node, and step 3 picks among its replicas by cost).
        for (int k = 0; k < ids.Length && remaining > 0 && _selfMember >= 0 && _preferLocal; k++)
        {
            if (chosen[k] < 0 && _candidateMember.AsSpan(_slotStart[k], _slotStart[k + 1] - _slotStart[k]).Contains(_selfMember))
            {
                chosen[k] = _selfMember;
                remaining--;
                used += Mark(_selfNode);
            }
        }

        // 2. The rank's own node, when it holds any remaining expert (no network hop).
        for (int k = 0; k < ids.Length && remaining > 0 && _selfNode >= 0 && _nodeMark[_selfNode] != _marker; k++)
        {
            if (chosen[k] < 0 && _candidateNode.AsSpan(_slotStart[k], _slotStart[k + 1] - _slotStart[k]).Contains(_selfNode))
            {
                used += Mark(_selfNode);
            }
        }

        while (remaining > 0)
        {
            // 3. Slots that a node already chosen can take: on the rank's node first, then the cheaper, then the earlier replica.
            for (int k = 0; k < ids.Length; k++)
            {
                if (chosen[k] < 0)
                {
                    int best = -1;
                    for (int c = _slotStart[k]; c < _slotStart[k + 1]; c++)
                    {
                        if (_nodeMark[_candidateNode[c]] == _marker
                            && (best < 0 || Better(_preferLocal && _candidateNode[c] == _selfNode, _candidateCost[c], _preferLocal && _candidateNode[best] == _selfNode, _candidateCost[best])))
                        {
                            best = c;
                        }
                    }

                    if (best >= 0)
                    {
                        chosen[k] = _candidateMember[best];
                        remaining--;
                    }
                }
            }

            if (remaining > 0)
            {
                // 4. A new node: the one covering most remaining slots, then the cheaper replicas, then the lower index.
                used += Mark(GreedyNextNode(ids.Length, chosen));
            }
        }

        return used;
    }

    private static bool Better(bool localNode, int cost, bool bestLocalNode, int bestCost) =>
        (localNode && !bestLocalNode) || (localNode == bestLocalNode && cost < bestCost);

    private ReadOnlySpan<int> Holders(int expert)
    {
        int slot = _slotBase + expert;
        return _holders.AsSpan(_offsets[slot], _offsets[slot + 1] - _offsets[slot]);
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

    private int GreedyNextNode(int slots, ReadOnlySpan<int> chosen)
    {
        int touched = 0;
        for (int k = 0; k < slots; k++)
        {
            if (chosen[k] >= 0)
            {
                continue;
            }

            for (int c = _slotStart[k]; c < _slotStart[k + 1]; c++)
            {
                // The slot counts once per node, at its cheapest replica there.
                int node = _candidateNode[c];
                bool seen = false;
                for (int q = _slotStart[k]; q < c && !seen; q++)
                {
                    seen = _candidateNode[q] == node;
                }

                if (seen)
                {
                    continue;
                }

                int cost = _candidateCost[c];
                for (int q = c + 1; q < _slotStart[k + 1]; q++)
                {
                    if (_candidateNode[q] == node)
                    {
                        cost = Math.Min(cost, _candidateCost[q]);
                    }
                }

                if (_nodeCover[node] == 0)
                {
                    _touched[touched++] = node;
                }

                _nodeCover[node]++;
                _nodeCost[node] += cost;
            }
        }

        int best = _touched[0];
        for (int i = 1; i < touched; i++)
        {
            int n = _touched[i];
            if (_nodeCover[n] > _nodeCover[best]
                || (_nodeCover[n] == _nodeCover[best] && (_nodeCost[n] < _nodeCost[best] || (_nodeCost[n] == _nodeCost[best] && n < best))))
            {
                best = n;
            }
        }

        for (int i = 0; i < touched; i++)
        {
            _nodeCover[_touched[i]] = 0;
            _nodeCost[_touched[i]] = 0;
        }

        return best;
    }
}
