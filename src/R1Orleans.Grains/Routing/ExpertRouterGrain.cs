using Orleans.Concurrency;
using R1Orleans.Model;
using R1Orleans.Placement;
using ClusterMember = R1Orleans.Placement.ClusterMember;

namespace R1Orleans.Grains.Routing;

/// <summary>Thin over <see cref="ExpertRouter"/> with this silo's live placement (<see cref="ILocalPlacement"/>). Local, any number at once.</summary>
[StatelessWorker, Reentrant]
public sealed class ExpertRouterGrain(ILocalPlacement local) : Grain, IExpertRouterGrain
{
    public Task<RoutePreview> Route(int layer, int k, int[] topkIds)
    {
        ArgumentNullException.ThrowIfNull(topkIds);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(k);
        if (topkIds.Length % k != 0)
        {
            throw new ArgumentException($"{topkIds.Length} expert ids are not a whole number of tokens of {k}", nameof(topkIds));
        }

        PlacementMap map = local.Current ?? throw new InvalidOperationException("this silo has no live placement yet");
        var router = new ExpertRouter(map, local.Self, local.MaxNodesPerToken);
        int tokens = topkIds.Length / k;
        DispatchPlan plan = router.Route(layer, new ExpertRouting(tokens, k, topkIds, new float[topkIds.Length]));
        var holders = new string[topkIds.Length];
        var nodes = new int[tokens];
        for (int t = 0; t < tokens; t++)
        {
            nodes[t] = plan.NodesSpanned(t);
            for (int s = 0; s < k; s++)
            {
                holders[(t * k) + s] = map.Member(plan.HolderOf(t, s)).Silo.Value;
            }
        }

        return Task.FromResult(new RoutePreview(map.Version, map.Epoch, holders, nodes, plan.Violations, local.Self.Silo.Value));
    }
}

/// <summary>This silo's member identity, its live placement and the node limit its rank routes with.</summary>
public interface ILocalPlacement
{
    ClusterMember Self { get; }

    PlacementMap? Current { get; }

    int MaxNodesPerToken { get; }
}
