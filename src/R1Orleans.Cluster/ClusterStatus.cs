using R1Orleans.Grains.Cluster;
using R1Orleans.Grains.Ranks;
using R1Orleans.Placement;

namespace R1Orleans.Cluster;

/// <summary>One silo as the cluster status shows it.</summary>
/// <param name="Rank">What the silo's rank says of itself (requests, exchange traffic, experts held); null when it did not answer within a second.</param>
public sealed record SiloStatusReport(string Silo, string Node, int ExpertsPlaced, bool ThisSilo, RankReport? Rank);

/// <summary>A silo as Orleans' membership sees it (Active, ShuttingDown, Stopping, Dead…), from the asked silo's view.</summary>
public sealed record MembershipStatusReport(string Silo, string Status);

/// <summary>What this silo's rank sent to other silos and got back, and what its holder ran for all ranks.</summary>
public sealed record ExchangeStatusReport(
    long SentMessages,
    long SentBytes,
    long ReceivedMessages,
    long ReceivedBytes,
    double MeanReplyMicroseconds,
    long NodeLimitViolations,
    long TokensRunHere);

/// <summary>
/// What <c>GET /cluster/status</c> answers: the members, the committed placement (version, epoch) and what each silo
/// holds in it, the pending placement being loaded, and whether every MoE layer's experts are held by a member.
/// </summary>
public sealed record ClusterStatusReport(
    string? ModelHash,
    long? Version,
    long? Epoch,
    long? PendingVersion,
    bool ExpertsCovered,
    long? ThisSiloVersion,
    IReadOnlyList<SiloStatusReport> Silos,
    ExchangeStatusReport? ThisSiloExchange,
    IReadOnlyList<MembershipStatusReport>? Membership = null);

/// <summary>One expert of one layer: where it is held (replica 0 first) and the tokens this silo's rank routed to it.</summary>
public sealed record ExpertPlacementReport(int Expert, IReadOnlyList<string> Holders, long TokensRoutedHere);

/// <summary>One MoE layer's experts.</summary>
public sealed record LayerPlacementReport(int Layer, IReadOnlyList<ExpertPlacementReport> Experts);

/// <summary>What <c>GET /cluster/experts</c> answers: the committed placement, expert by expert.</summary>
public sealed record ExpertsReport(long? Version, long? Epoch, IReadOnlyList<LayerPlacementReport> Layers);

/// <summary>Reads the cluster's status from the placement directory grain (and this silo's node, when it is a member).</summary>
public static class ClusterStatus
{
    /// <summary>The committed placement of every MoE layer (or only <paramref name="layer"/>), with this rank's routed tokens.</summary>
    public static async Task<ExpertsReport> ReadExpertsAsync(IGrainFactory grains, ClusterNode? self, int? layer)
    {
        ArgumentNullException.ThrowIfNull(grains);
        PlacementSnapshot snapshot = await grains.GetGrain<IPlacementDirectoryGrain>(IPlacementDirectoryGrain.DefaultKey).Snapshot().ConfigureAwait(false);
        if (snapshot.Committed?.ToMap() is not { } map)
        {
            return new ExpertsReport(null, null, []);
        }

        var load = self?.RankExchangeInstance?.Load;
        var layers = map.Layout.MoeLayers
            .Where(l => layer is null || l == layer)
            .Select(l => new LayerPlacementReport(l, [.. Enumerable.Range(0, map.Layout.Experts)
                .Select(e => new ExpertPlacementReport(e, [.. map.Holders(l, e).Select(h => h.Value)], load?.Tokens(l, e) ?? 0))]))
            .ToList();
        return new ExpertsReport(map.Version, map.Epoch, layers);
    }

    public static async Task<ClusterStatusReport> ReadAsync(IGrainFactory grains, ClusterNode? self)
    {
        ArgumentNullException.ThrowIfNull(grains);
        PlacementSnapshot snapshot = await grains.GetGrain<IPlacementDirectoryGrain>(IPlacementDirectoryGrain.DefaultKey).Snapshot().ConfigureAwait(false);
        PlacementMap? map = snapshot.Committed?.ToMap();
        ClusterMemberInfo[] members = [.. snapshot.Members.OrderBy(m => m.Node, StringComparer.Ordinal).ThenBy(m => m.Silo, StringComparer.Ordinal)];
        RankReport?[] ranks = await Task.WhenAll(members.Select(m => ReportOf(grains, m.Silo))).ConfigureAwait(false);
        var silos = members
            .Select((m, i) => new SiloStatusReport(
                m.Silo,
                m.Node,
                map is null ? 0 : map.Layout.MoeLayers.Sum(l => map.ExpertsHeldBy(new SiloId(m.Silo), l).Count),
                self is not null && self.Self.Silo.Value == m.Silo,
                ranks[i]))
            .ToList();
        bool covered = map is not null && map.Members.All(m => snapshot.Members.Any(s => s.Silo == m.Silo.Value));
        ExchangeStatusReport? exchange = self?.RankExchangeInstance?.Statistics is { } st
            ? new ExchangeStatusReport(st.SentMessages, st.SentBytes, st.ReceivedMessages, st.ReceivedBytes, st.MeanReplyLatency.TotalMicroseconds, st.NodeLimitViolations, self.Holder?.Load.Total ?? 0)
            : null;
        IReadOnlyList<MembershipStatusReport>? membership = self?.Membership?.CurrentSnapshot.Members.Values
            .OrderBy(m => m.SiloAddress.ToParsableString(), StringComparer.Ordinal)
            .Select(m => new MembershipStatusReport(m.SiloAddress.ToParsableString(), m.Status.ToString()))
            .ToList();
        return new ClusterStatusReport(snapshot.ModelHash, map?.Version, map?.Epoch, snapshot.Pending?.Version, covered, self?.View.Current?.Version, silos, exchange, membership);
    }

    private static async Task<RankReport?> ReportOf(IGrainFactory grains, string silo)
    {
        try
        {
            return await grains.GetGrain<IRankGrain>(silo).Report().WaitAsync(TimeSpan.FromSeconds(1)).ConfigureAwait(false);
        }
        catch (Exception e) when (e is OrleansException or TimeoutException or InvalidOperationException)
        {
            return null;
        }
    }
}
