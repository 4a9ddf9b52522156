using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using R1Orleans.Cluster.Ranks;
using R1Orleans.Gateway;
using R1Orleans.Gateway.Ranks;
using R1Orleans.Grains.Cluster;
using R1Orleans.Grains.Layers;
using R1Orleans.Grains.Placement;
using R1Orleans.Grains.Ranks;
using R1Orleans.Grains.Routing;

namespace R1Orleans.Cluster;

/// <summary>
/// Adds a silo's cluster side: the silo-bound placement director, the cluster node and the grains' view of it, its
/// metrics, the rank other silos' gateways reach, and the gateway's rank router (registered before the gateway's own default).
/// </summary>
public static class ClusterServiceCollectionExtensions
{
    public static IServiceCollection AddR1Cluster(this IServiceCollection services, ClusterNodeOptions options)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(options);
        services.AddPlacementDirector<SiloBoundPlacement, SiloBoundPlacementDirector>();
        services.AddSingleton(options);
        services.TryAddSingleton<ModelHost>();
        services.AddSingleton(sp =>
        {
            ModelHost host = sp.GetRequiredService<ModelHost>();
            return ActivatorUtilities.CreateInstance<ClusterNode>(sp, (Func<int>)(() => host.Engine is { } e ? e.Core.Running + e.Core.Waiting : 0));
        });
        services.AddSingleton<ILocalExpertHolder>(sp => sp.GetRequiredService<ClusterNode>());
        services.AddSingleton<IPlacementPlannerSource>(sp => sp.GetRequiredService<ClusterNode>());
        services.AddSingleton<ILocalPlacement>(sp => sp.GetRequiredService<ClusterNode>());
        services.AddSingleton<ILocalLayers, SiloLayers>();
        services.AddHostedService(sp => sp.GetRequiredService<ClusterNode>());
        services.AddMetrics();
        services.AddSingleton<ClusterMetrics>();
        services.AddHostedService(sp => sp.GetRequiredService<ClusterMetrics>());

        // Every silo is a rank: its engine serves other silos' gateways, and its gateway spreads requests over all ranks.
        services.TryAddSingleton<ModelHost>();
        services.AddSingleton<ILocalRank, SiloRank>();
        services.AddSingleton<RankLoads>();
        services.AddHostedService(sp => sp.GetRequiredService<RankLoads>());
        services.AddSingleton<IRankRouter, ClusterRankRouter>();
        return services;
    }
}
