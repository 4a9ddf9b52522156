using Orleans.Runtime;
using R1Orleans.Engine.Api;
using R1Orleans.Gateway;
using R1Orleans.Gateway.Ranks;
using R1Orleans.Grains.Ranks;
using R1Orleans.Placement;
using ClusterMember = R1Orleans.Placement.ClusterMember;

namespace R1Orleans.Cluster.Ranks;

/// <summary>
/// The gateway's router on a cluster silo: every silo of the live placement is a data-parallel rank, and each new
/// request goes to the least-loaded one with room (<see cref="RankPicker"/>): this silo's engine directly, another's
/// through its <see cref="IRankGrain"/>. The gateway is ready (/health) only when every routed expert of every MoE layer
/// has a live holder.
/// </summary>
public sealed class ClusterRankRouter(ClusterNode node, ModelHost host, RankLoads loads, IGrainFactory grains, IClusterMembershipService membership) : IRankRouter
{
    public string? Unready
    {
        get
        {
            if (node.View.Current is not { } map)
            {
                return node.Refusal ?? "waiting for the cluster's first placement";
            }

            ClusterMembershipSnapshot snapshot = membership.CurrentSnapshot;
            return PlacementCoverage.Describe(map, silo => IsActive(snapshot, silo));
        }
    }

    public IRank? Pick(int count, int maxWaiting, IReadOnlyCollection<string>? exclude = null)
    {
        InferenceEngine engine = host.Engine ?? throw new InvalidOperationException("the model is not loaded yet");
        if (node.View.Current is not { } map)
        {
            return engine.Core.Admits(count, maxWaiting) ? new EngineRank(node.Self.Silo.Value, engine, node.DrainToken) : null;
        }

        var candidates = new List<RankCandidate>(map.MemberCount);
        foreach (ClusterMember member in map.Members)
        {
            if (exclude?.Contains(member.Silo.Value) == true)
            {
                continue;
            }

            if (member.Silo == node.Self.Silo)
            {
                if (node.Draining)
                {
                    continue;
                }

                candidates.Add(new RankCandidate(member.Silo.Value, engine.Core.Running, engine.Core.Waiting, engine.Core.MaxNumSeqs, true));
            }
            else if (loads.Candidate(member.Silo) is { } remote)
            {
                candidates.Add(remote);
            }
        }

        int k = RankPicker.Pick(candidates.ToArray(), count, maxWaiting);
        if (k < 0)
        {
            return null;
        }

        RankCandidate chosen = candidates[k];
        if (chosen.IsLocal)
        {
            return new EngineRank(chosen.Name, engine, node.DrainToken);
        }

        loads.Sent(new SiloId(chosen.Name), count);
        return new RemoteRank(chosen.Name, grains.GetGrain<IRankGrain>(chosen.Name), loads.LostToken(new SiloId(chosen.Name)));
    }

    public string BusySummary(int maxWaiting) =>
        $"every rank is full (this silo: {host.Engine?.Core.LoadSummary(maxWaiting) ?? "loading"})";

    private static bool IsActive(ClusterMembershipSnapshot snapshot, SiloId silo)
    {
        try
        {
            return snapshot.GetSiloStatus(SiloAddress.FromParsableString(silo.Value)) == SiloStatus.Active;
        }
        catch (FormatException)
        {
            return false;
        }
    }
}
