using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace R1Orleans.Placement;

/// <summary>
/// One immutable version of the expert placement: for every MoE layer and routed expert, the ordered silos holding it
/// (replica 0 first). Every change is a new map with a higher <see cref="Version"/> and <see cref="Epoch"/>
/// (see <see cref="PlacementStamp"/>). Members are kept in the order given (the planner sorts them by node, then silo).
/// </summary>
public sealed class PlacementMap : IEquatable<PlacementMap>
{
    private readonly ClusterMember[] _members;
    private readonly NodeName[] _nodes;
    private readonly int[] _memberNode;
    private readonly int[] _layerIndex;
    private readonly int[] _holderOffsets;
    private readonly int[] _holders;
    private readonly Dictionary<SiloId, int> _memberIndex;
    private ulong? _contentHash;

    private PlacementMap(long version, long epoch, ClusterMember[] members, ExpertLayout layout, int[] holderOffsets, int[] holders)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(version);
        ArgumentOutOfRangeException.ThrowIfNegative(epoch);
        Version = version;
        Epoch = epoch;
        Layout = layout;
        _members = members;
        _holderOffsets = holderOffsets;
        _holders = holders;

        _memberIndex = new Dictionary<SiloId, int>(members.Length);
        var nodes = new List<NodeName>();
        _memberNode = new int[members.Length];
        for (int m = 0; m < members.Length; m++)
        {
            ArgumentNullException.ThrowIfNull(members[m]);
            if (!_memberIndex.TryAdd(members[m].Silo, m))
            {
                throw new ArgumentException($"silo {members[m].Silo} is listed twice", nameof(members));
            }

            int n = nodes.IndexOf(members[m].Node);
            if (n < 0)
            {
                n = nodes.Count;
                nodes.Add(members[m].Node);
            }

            _memberNode[m] = n;
        }

        _nodes = [.. nodes];
        _layerIndex = new int[layout.MoeLayers[^1] + 1];
        Array.Fill(_layerIndex, -1);
        for (int li = 0; li < layout.MoeLayers.Count; li++)
        {
            _layerIndex[layout.MoeLayers[li]] = li;
        }

        Validate();
    }

    public long Version { get; }

    public long Epoch { get; }

    public PlacementStamp Stamp => new(Version, Epoch);

    public ExpertLayout Layout { get; }

    /// <summary>The silos this map was planned over (holders or not), in map order; member indexes refer to this list.</summary>
    public IReadOnlyList<ClusterMember> Members => _members;

    /// <summary>The distinct nodes, in order of first appearance in <see cref="Members"/>; node indexes refer to this list.</summary>
    public IReadOnlyList<NodeName> Nodes => _nodes;

    public int MemberCount => _members.Length;

    public int NodeCount => _nodes.Length;

    /// <summary>
    /// Makes a map from explicit holders: holders[li][e] lists the silos holding expert e of the li-th MoE layer of
    /// <paramref name="layout"/>, replica 0 first. Every expert needs at least one holder, on distinct silos, all members.
    /// </summary>
    public static PlacementMap Create(long version, long epoch, IEnumerable<ClusterMember> members, ExpertLayout layout, IReadOnlyList<IReadOnlyList<IReadOnlyList<SiloId>>> holders)
    {
        ArgumentNullException.ThrowIfNull(members);
        ArgumentNullException.ThrowIfNull(layout);
        ArgumentNullException.ThrowIfNull(holders);
        ClusterMember[] m = [.. members];
        var index = new Dictionary<SiloId, int>();
        for (int i = 0; i < m.Length; i++)
        {
            index.TryAdd(m[i].Silo, i);
        }

        if (holders.Count != layout.MoeLayers.Count)
        {
            throw new ArgumentException($"holders name {holders.Count} layers, the layout has {layout.MoeLayers.Count}", nameof(holders));
        }

        var offsets = new int[(layout.MoeLayers.Count * layout.Experts) + 1];
        var flat = new List<int>();
        for (int li = 0; li < holders.Count; li++)
        {
            if (holders[li].Count != layout.Experts)
            {
                throw new ArgumentException($"holders of layer {layout.MoeLayers[li]} name {holders[li].Count} experts, the layout has {layout.Experts}", nameof(holders));
            }

            for (int e = 0; e < layout.Experts; e++)
            {
                foreach (SiloId silo in holders[li][e])
                {
                    flat.Add(index.TryGetValue(silo, out int mi)
                        ? mi
                        : throw new ArgumentException($"expert {e} of layer {layout.MoeLayers[li]} is held by {silo}, which is not a member", nameof(holders)));
                }

                offsets[(li * layout.Experts) + e + 1] = flat.Count;
            }
        }

        return new PlacementMap(version, epoch, m, layout, offsets, [.. flat]);
    }

    /// <summary>
    /// The same version (same stamp, members and layout) with <paramref name="suspects"/> left out of every holder list
    /// that has another holder: what a rank routes with while it avoids holders that failed it, before the control plane
    /// publishes a placement without them. An expert held only by suspects keeps its holders (nothing else can run it).
    /// </summary>
    public PlacementMap Excluding(IReadOnlyCollection<SiloId> suspects)
    {
        ArgumentNullException.ThrowIfNull(suspects);
        var excluded = new bool[_members.Length];
        bool any = false;
        foreach (SiloId s in suspects)
        {
            if (_memberIndex.TryGetValue(s, out int m))
            {
                excluded[m] = any = true;
            }
        }

        if (!any)
        {
            return this;
        }

        var offsets = new int[_holderOffsets.Length];
        var holders = new List<int>(_holders.Length);
        for (int i = 0; i + 1 < _holderOffsets.Length; i++)
        {
            ReadOnlySpan<int> h = _holders.AsSpan(_holderOffsets[i], _holderOffsets[i + 1] - _holderOffsets[i]);
            int kept = 0;
            foreach (int m in h)
            {
                if (!excluded[m])
                {
                    holders.Add(m);
                    kept++;
                }
            }

            if (kept == 0)
            {
                holders.AddRange(h);
            }

            offsets[i + 1] = holders.Count;
        }

        return new PlacementMap(Version, Epoch, _members, Layout, offsets, [.. holders]);
    }

    /// <summary>The same assignment under another stamp (the directory numbers a proposed map as its next).</summary>
    public PlacementMap Restamped(long version, long epoch) => new(version, epoch, _members, Layout, _holderOffsets, _holders);

    /// <summary>Internal factory for the planner: arrays are taken over, not copied.</summary>
    internal static PlacementMap FromArrays(long version, long epoch, ClusterMember[] members, ExpertLayout layout, int[] holderOffsets, int[] holders) =>
        new(version, epoch, members, layout, holderOffsets, holders);

    public static PlacementMap FromData(PlacementMapData data)
    {
        ArgumentNullException.ThrowIfNull(data);
        if (data.Silos.Length != data.Nodes.Length)
        {
            throw new ArgumentException($"{data.Silos.Length} silos but {data.Nodes.Length} nodes", nameof(data));
        }

        ClusterMember[] members = [.. data.Silos.Zip(data.Nodes, (s, n) => new ClusterMember(s, n))];
        var layout = new ExpertLayout(data.MoeLayers, data.Experts, data.Groups, data.TopkGroup);
        return new PlacementMap(data.Version, data.Epoch, members, layout, [.. data.HolderOffsets], [.. data.HolderMembers]);
    }

    public PlacementMapData ToData() => new(
        Version,
        Epoch,
        [.. _members.Select(m => m.Silo.Value)],
        [.. _members.Select(m => m.Node.Value)],
        [.. Layout.MoeLayers],
        Layout.Experts,
        Layout.Groups,
        Layout.TopkGroup,
        [.. _holderOffsets],
        [.. _holders]);

    public ClusterMember Member(int memberIndex) => _members[memberIndex];

    /// <summary>The member index of <paramref name="silo"/>, or -1 when it is not a member of this map.</summary>
    public int IndexOf(SiloId silo) => _memberIndex.TryGetValue(silo, out int m) ? m : -1;

    /// <summary>The node index of <paramref name="node"/>, or -1 when no member runs on it.</summary>
    public int IndexOf(NodeName node) => Array.IndexOf(_nodes, node);

    /// <summary>The node index of a member.</summary>
    public int NodeOf(int memberIndex) => _memberNode[memberIndex];

    /// <summary>The router's unchecked view: holders of slot (layerIndex * Experts + expert) are HolderMembers[HolderOffsets[slot]..HolderOffsets[slot + 1]].</summary>
    internal int[] HolderOffsets => _holderOffsets;

    internal int[] HolderMembers => _holders;

    internal int[] MemberNodes => _memberNode;

    /// <summary>The position of a MoE layer in <see cref="ExpertLayout.MoeLayers"/>; the layer must be one.</summary>
    internal int LayerIndex(int layer) => _layerIndex[layer];

    public bool HasLayer(int layer) => (uint)layer < (uint)_layerIndex.Length && _layerIndex[layer] >= 0;

    /// <summary>Member indexes holding (layer, expert), replica 0 first. Allocation-free: the router's view.</summary>
    public ReadOnlySpan<int> HolderIndexes(int layer, int expert)
    {
        int i = Slot(layer, expert);
        return _holders.AsSpan(_holderOffsets[i], _holderOffsets[i + 1] - _holderOffsets[i]);
    }

    /// <summary>The silos holding (layer, expert), replica 0 first.</summary>
    public IReadOnlyList<SiloId> Holders(int layer, int expert)
    {
        ReadOnlySpan<int> h = HolderIndexes(layer, expert);
        var silos = new SiloId[h.Length];
        for (int r = 0; r < h.Length; r++)
        {
            silos[r] = _members[h[r]].Silo;
        }

        return silos;
    }

    /// <summary>
    /// Whether <paramref name="silo"/> holds (layer, expert) as any replica: the ownership test for loading a silo's
    /// experts, e.g. <c>ExpertShard.Load(config, weights, (l, e) =&gt; map.Holds(self, l, e), withMtp)</c>.
    /// </summary>
    public bool Holds(SiloId silo, int layer, int expert)
    {
        int m = IndexOf(silo);
        ReadOnlySpan<int> holders = HolderIndexes(layer, expert);
        return m >= 0 && holders.Contains(m);
    }

    /// <summary>The experts of <paramref name="layer"/> that <paramref name="silo"/> holds (any replica), ascending.</summary>
    public IReadOnlyList<int> ExpertsHeldBy(SiloId silo, int layer)
    {
        int m = IndexOf(silo);
        var experts = new List<int>();
        if (m < 0)
        {
            return experts;
        }

        for (int e = 0; e < Layout.Experts; e++)
        {
            if (HolderIndexes(layer, e).Contains(m))
            {
                experts.Add(e);
            }
        }

        return experts;
    }

    /// <summary>The members holding at least one expert, in map order.</summary>
    public IReadOnlyList<SiloId> SilosInvolved()
    {
        var holds = new bool[_members.Length];
        foreach (int m in _holders)
        {
            holds[m] = true;
        }

        return [.. _members.Where((_, m) => holds[m]).Select(x => x.Silo)];
    }

    /// <summary>
    /// A stable hash of the assignment (members with their nodes, layout, holders in replica order), the first 8
    /// bytes of a SHA-256; Version and Epoch are not part of it, so two versions with the same placement share it.
    /// </summary>
    public ulong ContentHash => _contentHash ??= ComputeContentHash();

    /// <summary>Whether <paramref name="other"/> places every expert on the same silos in the same replica order over the same members.</summary>
    public bool SameAssignment(PlacementMap? other) =>
        other is not null
        && Layout.Equals(other.Layout)
        && _members.AsSpan().SequenceEqual(other._members)
        && _holderOffsets.AsSpan().SequenceEqual(other._holderOffsets)
        && _holders.AsSpan().SequenceEqual(other._holders);

    public bool Equals(PlacementMap? other) =>
        other is not null && Version == other.Version && Epoch == other.Epoch && SameAssignment(other);

    public override bool Equals(object? obj) => Equals(obj as PlacementMap);

    public override int GetHashCode() => HashCode.Combine(Version, Epoch, ContentHash);

    public override string ToString() =>
        $"placement {Stamp}: {Layout} over {_members.Length} silos on {_nodes.Length} nodes, hash {ContentHash:x16}";

    private int Slot(int layer, int expert)
    {
        if (!HasLayer(layer))
        {
            throw new ArgumentOutOfRangeException(nameof(layer), $"layer {layer} is not a MoE layer of this placement");
        }

        if ((uint)expert >= (uint)Layout.Experts)
        {
            throw new ArgumentOutOfRangeException(nameof(expert), $"expert {expert} is outside the layer's {Layout.Experts} experts");
        }

        return (_layerIndex[layer] * Layout.Experts) + expert;
    }

    private void Validate()
    {
        int slots = Layout.MoeLayers.Count * Layout.Experts;
        if (_holderOffsets.Length != slots + 1 || _holderOffsets[0] != 0 || _holderOffsets[^1] != _holders.Length)
        {
            throw new ArgumentException($"holder offsets must have {slots + 1} entries from 0 to {_holders.Length}");
        }

        for (int i = 0; i < slots; i++)
        {
            int start = _holderOffsets[i], end = _holderOffsets[i + 1];
            int layer = Layout.MoeLayers[i / Layout.Experts], expert = i % Layout.Experts;
            if (end <= start)
            {
                throw new ArgumentException($"expert {expert} of layer {layer} has no holder");
            }

            for (int r = start; r < end; r++)
            {
                if ((uint)_holders[r] >= (uint)_members.Length)
                {
                    throw new ArgumentException($"expert {expert} of layer {layer} names member {_holders[r]}, the map has {_members.Length}");
                }

                for (int q = start; q < r; q++)
                {
                    if (_holders[q] == _holders[r])
                    {
                        throw new ArgumentException($"expert {expert} of layer {layer} lists silo {_members[_holders[r]].Silo} twice: replicas must be on distinct silos");
                    }
                }
            }
        }
    }

    private ulong ComputeContentHash()
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        byte[] word = new byte[4];

        void Int(int v)
        {
            BinaryPrimitives.WriteInt32LittleEndian(word, v);
            sha.AppendData(word);
        }

        void Str(string s)
        {
            byte[] bytes = Encoding.UTF8.GetBytes(s);
            Int(bytes.Length);
            sha.AppendData(bytes);
        }

        Int(_members.Length);
        foreach (ClusterMember m in _members)
        {
            Str(m.Silo.Value);
            Str(m.Node.Value);
        }

        Int(Layout.Experts);
        Int(Layout.Groups);
        Int(Layout.TopkGroup);
        Int(Layout.MoeLayers.Count);
        foreach (int l in Layout.MoeLayers)
        {
            Int(l);
        }

        foreach (int o in _holderOffsets)
        {
            Int(o);
        }

        foreach (int h in _holders)
        {
            Int(h);
        }

        return BinaryPrimitives.ReadUInt64LittleEndian(sha.GetHashAndReset());
    }
}
