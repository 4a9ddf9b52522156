namespace R1Orleans.Placement;

/// <summary>What a silo's attempt to join the cluster came to.</summary>
public enum JoinOutcome
{
    Joined,

    /// <summary>The silo loaded a different model (its config hash differs from the cluster's): refused.</summary>
    ModelMismatch,
}

/// <summary>
/// The cluster's placement state (the plain class under the placement directory grain): who the members are, which
/// model they all serve (by config hash), the committed map every rank dispatches with, and the pending map being
/// loaded. A change (join, leave) plans the next map as pending; each member loads what it adds and acknowledges;
/// when every member of the pending map has, it becomes the committed map (ranks take it up at their next step).
/// A newer pending map supersedes an unfinished one. State is in memory and recomputable: after the grain's silo is
/// lost, members that find themselves absent join again, each with the epoch it serves, and the new activation's
/// placements continue above the highest (ranks take only newer epochs).
/// </summary>
public sealed class PlacementDirectory
{
    private readonly PlacementPlanner _planner;
    private readonly Dictionary<SiloId, ClusterMember> _members = [];
    private readonly HashSet<SiloId> _acks = [];
    private long _generation;

    public PlacementDirectory(PlacementPlanner planner) => _planner = planner ?? throw new ArgumentNullException(nameof(planner));

    /// <summary>The config hash of the model the cluster serves (set by the first member).</summary>
    public string? ModelHash { get; private set; }

    public IReadOnlyCollection<ClusterMember> Members => _members.Values;

    /// <summary>The map ranks dispatch with.</summary>
    public PlacementMap? Committed { get; private set; }

    /// <summary>The next map, being loaded by its members.</summary>
    public PlacementMap? Pending { get; private set; }

    /// <summary>
    /// Adds <paramref name="member"/> (idempotent) and plans the next map; refused when its model differs.
    /// <paramref name="servedEpoch"/> is the epoch of the placement the member serves (0 for none): the next map's epoch
    /// is above it, so a directory that lost its state never publishes an epoch the ranks already passed.
    /// </summary>
    public JoinOutcome Join(ClusterMember member, string modelHash, long servedEpoch = 0)
    {
        ArgumentNullException.ThrowIfNull(member);
        ArgumentException.ThrowIfNullOrEmpty(modelHash);
        ArgumentOutOfRangeException.ThrowIfNegative(servedEpoch);
        if (ModelHash is not null && !string.Equals(ModelHash, modelHash, StringComparison.Ordinal))
        {
            return JoinOutcome.ModelMismatch;
        }

        _generation = Math.Max(_generation, servedEpoch);

        ModelHash ??= modelHash;

        // Already a member: nothing to plan, unless it serves an epoch the directory's newest map does not exceed.
        long newest = Pending?.Epoch ?? Committed?.Epoch ?? long.MaxValue;
        if (_members.TryGetValue(member.Silo, out ClusterMember? known) && known == member && servedEpoch < newest)
        {
            return JoinOutcome.Joined;
        }

        _members[member.Silo] = member;
        Replan();
        return JoinOutcome.Joined;
    }

    /// <summary>Removes a member (it left or died) and plans the next map; false when it was not a member.</summary>
    public bool Leave(SiloId silo)
    {
        if (!_members.Remove(silo))
        {
            return false;
        }

        if (_members.Count == 0)
        {
            Committed = null;
            Pending = null;
            ModelHash = null;
            return true;
        }

        Replan();
        return true;
    }

    /// <summary>
    /// Records that <paramref name="silo"/> loaded what <paramref name="stamp"/> gives it; true when this made the
    /// pending map the committed one.
    /// </summary>
    public bool Acknowledge(SiloId silo, PlacementStamp stamp)
    {
        if (Pending is not { } pending || pending.Stamp != stamp || pending.IndexOf(silo) < 0)
        {
            return false;
        }

        _acks.Add(silo);
        if (pending.Members.All(m => _acks.Contains(m.Silo)))
        {
            Committed = pending;
            Pending = null;
            _acks.Clear();
            return true;
        }

        return false;
    }

    /// <summary>
    /// Takes a map planned elsewhere (the load balancer's rebalance: hot experts replicated, experts moved) as the next
    /// pending map, numbered after the newest (version + 1, epoch above every epoch seen). Members then load what it adds
    /// in the background and acknowledge; ranks switch at a step boundary once it is committed; the old version is served
    /// until retired. Refused (with the reason) while another map is pending, before any map is committed, when its
    /// members are not exactly the directory's, or when its layout differs; a proposal with the committed assignment
    /// changes nothing unless it brings <paramref name="newWeights"/> (replica routing weights: a version that moves no
    /// expert, so that ranks take the weights at a step boundary like any map). Returns the reason it was refused or
    /// made no change, or null when it is pending.
    /// </summary>
    public string? Propose(PlacementMap plan, bool newWeights = false)
    {
        ArgumentNullException.ThrowIfNull(plan);
        if (Committed is not { } committed)
        {
            return "no placement is committed yet";
        }

        if (Pending is { } pending)
        {
            return $"placement {pending.Stamp} is still being loaded; propose again once it is committed";
        }

        if (!plan.Layout.Equals(committed.Layout))
        {
            return "the plan's expert layout is not the cluster's";
        }

        if (plan.MemberCount != _members.Count || plan.Members.Any(m => !_members.TryGetValue(m.Silo, out ClusterMember? known) || known != m))
        {
            return $"the plan places experts on {string.Join(", ", plan.Members.Select(m => m.Silo.Value))}; the members are {string.Join(", ", _members.Keys.Select(s => s.Value))}";
        }

        if (plan.SameAssignment(committed) && !newWeights)
        {
            return "the plan is the committed assignment: nothing to change";
        }

        _generation = Math.Max(_generation + 1, committed.Epoch + 1);
        Pending = plan.Restamped(committed.Version + 1, _generation);
        _acks.Clear();
        return null;
    }

    /// <summary>Members the planner needs before it can place every replica (--expert-replicas).</summary>
    public int MembersNeeded => _planner.Replicas;

    private void Replan()
    {
        _generation++;
        if (_members.Count < _planner.Replicas)
        {
            Pending = null; // not enough silos for the replicas yet: wait for more
            _acks.Clear();
            return;
        }

        PlacementMap? previous = Pending ?? Committed;
        Pending = _planner.Plan(_members.Values, previous, previous is null ? _generation : Math.Max(_generation, previous.Epoch + 1), rebalance: true);
        _acks.Clear();
    }
}
