using R1Orleans.Checkpoint;

namespace R1Orleans.Placement.Balancing;

/// <summary>
/// The load-aware planner: EPLB (DeepSeek's expert-parallelism load balancer) over this cluster's silos and nodes, from
/// a measured <see cref="ExpertLoadEstimate"/>. Every expert keeps at least <see cref="MinReplicas"/> copies
/// (--expert-replicas: the failover spares), on distinct silos and, while there are at least that many nodes, on
/// distinct nodes, spread as <see cref="PlacementPlanner"/> spreads them (<see cref="FailoverCopies"/>). Each silo has
/// <see cref="SlotsPerSilo"/> expert slots per layer (n_routed_experts · MinReplicas + <see cref="RedundantExperts"/>
/// over the silos, rounded up so that every silo gets as many, and up again until every node can hold its units
/// whole): the redundant slots come on top of the minimum copies. Per layer:
/// <list type="number">
/// <item>Hierarchical: groups packed to nodes by load per silo (each node takes a quota of group copies proportional
/// to its silos; the R copies of a group on distinct nodes); the experts of a node's groups replicated into the node's
/// slots (from the copies they must keep, the highest load per copy first, at most one copy per silo); the copies
/// packed to the node's silos, heaviest first into the lightest silo. Every node that holds any of a group holds all
/// of it, and a group spans min(R, nodes) nodes (one with R = 1), so the gate's group limit remains the node limit.</item>
/// <item>Global: with R = 1, the same replication and packing over every silo, ignoring groups and nodes; with R &gt; 1,
/// single experts take the place of groups (their R copies on distinct nodes), then the same steps per node.</item>
/// </list>
/// Copies of one expert are always on distinct silos; a slot stays empty rather than hold a copy of an idle expert
/// beyond its minimum; the replica weights route an expert's tokens over all its copies, so a cold expert's spare
/// simply takes its share. With R = 1 the plans are those of EPLB alone. The plan is never worse than the same planner without redundant slots (it keeps
/// the better of the two per layer), and the replica weights are then chosen to balance the silos (water-filling).
/// Hysteresis: with the same members as <paramref name="current"/>, a layer moves only when its predicted max/mean silo
/// load improves by more than <see cref="MinImprovement"/>; otherwise it keeps the current holders. Interchangeable
/// nodes and silos are relabelled to match the current map (costs nothing, moves less). Deterministic: the same inputs
/// give the same plan.
/// </summary>
public sealed partial class EplbPlanner
{
    /// <summary>The default hysteresis: a layer moves only for a predicted max/mean gain above 0.05.</summary>
    public const double DefaultMinImprovement = 0.05;

    public EplbPlanner(ExpertLayout layout, int redundantExperts = 0, EplbPolicy policy = EplbPolicy.Hierarchical, double minImprovement = DefaultMinImprovement, int minReplicas = 1)
    {
        ArgumentNullException.ThrowIfNull(layout);
        ArgumentOutOfRangeException.ThrowIfNegative(redundantExperts);
        ArgumentOutOfRangeException.ThrowIfLessThan(minReplicas, 1);
        if (!(minImprovement >= 0) || double.IsInfinity(minImprovement))
        {
            throw new ArgumentOutOfRangeException(nameof(minImprovement), $"the minimum improvement {minImprovement} must be finite and non-negative");
        }

        Layout = layout;
        RedundantExperts = redundantExperts;
        Policy = policy;
        MinImprovement = minImprovement;
        MinReplicas = minReplicas;
    }

    public ExpertLayout Layout { get; }

    /// <summary>Redundant expert slots per layer asked for (--redundant-experts); the effective count may be higher, see <see cref="SlotsPerSilo"/>.</summary>
    public int RedundantExperts { get; }

    /// <summary>The policy asked for.</summary>
    public EplbPolicy Policy { get; }

    /// <summary>The predicted max/mean silo load a layer must gain before it moves.</summary>
    public double MinImprovement { get; }

    /// <summary>Copies every expert keeps whatever its load (--expert-replicas), on distinct silos (and nodes while there are enough).</summary>
    public int MinReplicas { get; }

    /// <summary>A planner for a config's MoE layers (the MTP layers' included when <paramref name="withMtp"/>).</summary>
    public static EplbPlanner For(ModelConfig config, int redundantExperts = 0, EplbPolicy policy = EplbPolicy.Hierarchical, bool withMtp = true, int minReplicas = 1) =>
        new(ExpertLayout.From(config, withMtp), redundantExperts, policy, minReplicas: minReplicas);

    /// <summary>The policy a plan over <paramref name="members"/> uses (Hierarchical falls back to Global without groups or with fewer groups than nodes).</summary>
    public EplbPolicy PolicyFor(IEnumerable<ClusterMember> members) => new Shape(this, Sorted(members)).Policy;

    /// <summary>Expert slots per silo per layer over <paramref name="members"/>.</summary>
    public int SlotsPerSilo(IEnumerable<ClusterMember> members) => new Shape(this, Sorted(members)).SlotsPerSilo(RedundantExperts);

    /// <summary>
    /// Plans the placement for <paramref name="load"/>. Version = current.Version + 1 (1 without a current map), Epoch =
    /// max(current.Epoch + 1, <paramref name="clusterGeneration"/>) (at least 1), as <see cref="PlacementPlanner"/>;
    /// when hysteresis keeps every layer and the members are unchanged, the current map is returned as it is. A current
    /// layer with fewer copies of an expert than <see cref="MinReplicas"/> is always replanned. Fewer members than
    /// <see cref="MinReplicas"/> is an <see cref="ArgumentException"/>.
    /// </summary>
    public EplbPlan Plan(IEnumerable<ClusterMember> members, ExpertLoadEstimate load, PlacementMap? current = null, long clusterGeneration = 0)
    {
        ArgumentNullException.ThrowIfNull(load);
        if (load.Layout.Experts != Layout.Experts)
        {
            throw new ArgumentException($"the load estimate has {load.Layout.Experts} experts per layer, the layout {Layout.Experts}", nameof(load));
        }

        ClusterMember[] sorted = Sorted(members);
        var shape = new Shape(this, sorted);
        int slots = shape.SlotsPerSilo(RedundantExperts), slotsWithout = shape.SlotsPerSilo(0);
        PlacementMap? previous = current is not null && current.Layout.Experts == Layout.Experts ? current : null;
        bool sameMembers = current is not null && current.Layout.Equals(Layout) && current.Members.SequenceEqual(sorted);
        int[] previousToNew = Translate(previous, sorted);

        int layers = Layout.MoeLayers.Count, experts = Layout.Experts, changed = 0;
        var holders = new int[layers][][];
        for (int li = 0; li < layers; li++)
        {
            int layer = Layout.MoeLayers[li];
            ReadOnlySpan<double> w = load.Layer(layer);
            int[][]? before = previous is not null && previous.HasLayer(layer) ? PreviousHolders(previous, layer, previousToNew) : null;
            int[][] plan = shape.PlanLayer(w, slots, before);
            double ratio = shape.MaxOverMean(plan, w);
            if (slotsWithout != slots)
            {
                int[][] without = shape.PlanLayer(w, slotsWithout, before);
                double ratioWithout = shape.MaxOverMean(without, w);
                if (ratioWithout <= ratio)
                {
                    (plan, ratio) = (without, ratioWithout);
                }
            }

            if (sameMembers && before is not null && shape.Fits(before, slots) && !(shape.MaxOverMean(before, w) - ratio > MinImprovement))
            {
                plan = before;
            }

            holders[li] = plan;
            if (before is null || !SameHolders(plan, before))
            {
                changed++;
            }
        }

        PlacementMap map;
        if (sameMembers && changed == 0)
        {
            map = current!;
        }
        else
        {
            var offsets = new int[(layers * experts) + 1];
            var flat = new List<int>();
            for (int li = 0; li < layers; li++)
            {
                for (int e = 0; e < experts; e++)
                {
                    flat.AddRange(holders[li][e]);
                    offsets[(li * experts) + e + 1] = flat.Count;
                }
            }

            long version = current is null ? 1 : current.Version + 1;
            long epoch = Math.Max(current is null ? 1 : current.Epoch + 1, clusterGeneration);
            map = PlacementMap.FromArrays(version, epoch, sorted, Layout, offsets, [.. flat]);
        }

        ReplicaWeights weights = SiloLoadPrediction.BalancedWeights(map, load);
        double currentImbalance = current is null || current.Layout.Experts != Layout.Experts
            ? double.NaN
            : SiloLoadPrediction.Imbalance(current, load, SiloLoadPrediction.BalancedWeights(current, load));
        return new EplbPlan(map, weights, !ReferenceEquals(map, current), changed, shape.Policy, slots, currentImbalance, SiloLoadPrediction.Imbalance(map, load, weights));
    }

    private static ClusterMember[] Sorted(IEnumerable<ClusterMember> members)
    {
        ArgumentNullException.ThrowIfNull(members);
        ClusterMember[] sorted = [.. members];
        if (sorted.Length == 0)
        {
            throw new ArgumentException("cannot place experts on an empty cluster", nameof(members));
        }

        Array.Sort(sorted, ClusterMember.CompareByNodeThenSilo);
        for (int i = 1; i < sorted.Length; i++)
        {
            if (sorted[i].Silo == sorted[i - 1].Silo)
            {
                throw new ArgumentException($"silo {sorted[i].Silo} is listed twice", nameof(members));
            }
        }

        return sorted;
    }

    /// <summary>Member index in the previous map → index in <paramref name="sorted"/>, -1 for a silo that left.</summary>
    private static int[] Translate(PlacementMap? previous, ClusterMember[] sorted)
    {
        if (previous is null)
        {
            return [];
        }

        var index = new Dictionary<SiloId, int>();
        for (int m = 0; m < sorted.Length; m++)
        {
            index[sorted[m].Silo] = m;
        }

        var map = new int[previous.MemberCount];
        for (int p = 0; p < map.Length; p++)
        {
            map[p] = index.TryGetValue(previous.Member(p).Silo, out int m) ? m : -1;
        }

        return map;
    }

    private static int[][] PreviousHolders(PlacementMap previous, int layer, int[] previousToNew)
    {
        var holders = new int[previous.Layout.Experts][];
        for (int e = 0; e < holders.Length; e++)
        {
            holders[e] = [.. previous.HolderIndexes(layer, e).ToArray().Select(p => previousToNew[p]).Where(m => m >= 0)];
        }

        return holders;
    }

    private static bool SameHolders(int[][] a, int[][] b)
    {
        for (int e = 0; e < a.Length; e++)
        {
            if (!a[e].AsSpan().SequenceEqual(b[e]))
            {
                return false;
            }
        }

        return true;
    }
}
