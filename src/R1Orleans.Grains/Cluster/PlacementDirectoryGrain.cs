using Microsoft.Extensions.Logging;
using R1Orleans.Placement;

namespace R1Orleans.Grains.Cluster;

/// <summary>
/// The grain over <see cref="PlacementDirectory"/>. Its planner comes from the silo's <see cref="IPlacementPlannerSource"/>
/// (every silo loads the same model). In memory and kept alive: if its silo is lost, members join the new activation
/// again when they find themselves absent from its snapshot, with the epochs they serve, and it goes on from there.
/// </summary>
[KeepAlive]
public sealed partial class PlacementDirectoryGrain(IPlacementPlannerSource planners, ILogger<PlacementDirectoryGrain> logger) : Grain, IPlacementDirectoryGrain
{
    private PlacementDirectory? _directory;
    private readonly Dictionary<string, byte[]> _exchangeAddresses = new(StringComparer.Ordinal);

    /// <summary>The load balancer's replica weights of the maps it planned, by version (only the pending and committed are kept).</summary>
    private readonly Dictionary<long, double[]> _weights = [];

    public Task<JoinReply> Join(ClusterMemberInfo member)
    {
        ArgumentNullException.ThrowIfNull(member);
        PlacementDirectory directory = _directory ??= new PlacementDirectory(planners.Planner);
        JoinOutcome outcome = directory.Join(new R1Orleans.Placement.ClusterMember(member.Silo, member.Node), member.ModelHash, member.Epoch);
        if (outcome == JoinOutcome.ModelMismatch)
        {
            string refusal = $"silo {member.Silo} loaded a model whose config hash is {member.ModelHash}; the cluster serves {directory.ModelHash}: every silo of a cluster must load the same --model";
            LogRefused(logger, refusal);
            return Task.FromResult(new JoinReply(false, refusal, SnapshotOf(directory)));
        }

        _exchangeAddresses[member.Silo] = member.ExchangeAddress ?? [];
        LogJoined(logger, member.Silo, member.Node, directory.Members.Count, directory.Pending?.Stamp.ToString() ?? "none");
        return Task.FromResult(new JoinReply(true, null, SnapshotOf(directory)));
    }

    public Task Leave(string silo)
    {
        if (_directory?.Leave(new SiloId(silo)) == true)
        {
            _exchangeAddresses.Remove(silo);
            LogLeft(logger, silo, _directory.Members.Count);
        }

        return Task.CompletedTask;
    }

    public Task<PlacementSnapshot> Acknowledge(string silo, long version, long epoch)
    {
        if (_directory is { } directory && directory.Acknowledge(new SiloId(silo), new PlacementStamp(version, epoch)))
        {
            LogCommitted(logger, directory.Committed!.Stamp.ToString(), directory.Members.Count);
        }

        return Snapshot();
    }

    public Task<ProposeReply> Propose(PlacementMapDto plan)
    {
        ArgumentNullException.ThrowIfNull(plan);
        if (_directory is not { } directory)
        {
            return Task.FromResult(new ProposeReply(false, "no silo has joined the directory yet", null, null));
        }

        // The same holders with other replica weights is a change too (a version that moves no expert).
        bool newWeights = plan.Weights is { } planned && (directory.Committed is not { } committed
            || _weights.GetValueOrDefault(committed.Version) is not { } current || !planned.AsSpan().SequenceEqual(current));
        string? refusal = directory.Propose(plan.ToMap(), newWeights);
        if (refusal is not null)
        {
            return Task.FromResult(new ProposeReply(false, refusal, null, null));
        }

        if (plan.Weights is { } weights)
        {
            _weights[directory.Pending!.Version] = weights;
        }

        LogProposed(logger, directory.Pending!.Stamp.ToString());
        return Task.FromResult(new ProposeReply(true, null, directory.Pending.Version, directory.Pending.Epoch));
    }

    public Task<PlacementSnapshot> Snapshot() => Task.FromResult(_directory is null ? new PlacementSnapshot(null, null, [], null, 1) : SnapshotOf(_directory));

    private PlacementSnapshot SnapshotOf(PlacementDirectory d)
    {
        foreach (long version in _weights.Keys.Where(v => v != d.Committed?.Version && v != d.Pending?.Version).ToList())
        {
            _weights.Remove(version);
        }

        return new(
            WithWeights(d.Committed),
            WithWeights(d.Pending),
            [.. d.Members.Select(m => new ClusterMemberInfo(m.Silo.Value, m.Node.Value, d.ModelHash ?? "", _exchangeAddresses.GetValueOrDefault(m.Silo.Value) ?? []))],
            d.ModelHash,
            d.MembersNeeded);
    }

    private PlacementMapDto? WithWeights(PlacementMap? map) =>
        map is null ? null : PlacementMapDto.From(map) with { Weights = _weights.GetValueOrDefault(map.Version) };

    [LoggerMessage(Level = LogLevel.Information, Message = "silo {Silo} on node {Node} joined: {Members} members, pending placement {Pending}")]
    private static partial void LogJoined(ILogger logger, string silo, string node, int members, string pending);

    [LoggerMessage(Level = LogLevel.Warning, Message = "refused: {Refusal}")]
    private static partial void LogRefused(ILogger logger, string refusal);

    [LoggerMessage(Level = LogLevel.Information, Message = "silo {Silo} left: {Members} members")]
    private static partial void LogLeft(ILogger logger, string silo, int members);

    [LoggerMessage(Level = LogLevel.Information, Message = "rebalanced placement {Stamp} proposed: members load it in the background")]
    private static partial void LogProposed(ILogger logger, string stamp);

    [LoggerMessage(Level = LogLevel.Information, Message = "placement {Stamp} committed over {Members} members")]
    private static partial void LogCommitted(ILogger logger, string stamp, int members);
}

/// <summary>The silo's placement planner for the model it serves (set once the model's config is known).</summary>
public interface IPlacementPlannerSource
{
    PlacementPlanner Planner { get; }
}
