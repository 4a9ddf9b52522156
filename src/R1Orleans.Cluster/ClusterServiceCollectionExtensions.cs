using Microsoft.Extensions.DependencyInjection;
using R1Orleans.Grains.Cluster;
using R1Orleans.Grains.Placement;

namespace R1Orleans.Cluster;

/// <summary>Adds a silo's cluster side: the silo-bound placement director, the cluster node, the grains' view of it and its metrics.</summary>
public static class ClusterServiceCollectionExtensions
{
    public static IServiceCollection AddR1Cluster(this IServiceCollection services, ClusterNodeOptions options)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(options);
        services.AddPlacementDirector<SiloBoundPlacement, SiloBoundPlacementDirector>();
        services.AddSingleton(options);
        services.AddSingleton<ClusterNode>();
        services.AddSingleton<ILocalExpertHolder>(sp => sp.GetRequiredService<ClusterNode>());
        services.AddSingleton<IPlacementPlannerSource>(sp => sp.GetRequiredService<ClusterNode>());
        services.AddHostedService(sp => sp.GetRequiredService<ClusterNode>());
        services.AddMetrics();
        services.AddSingleton<ClusterMetrics>();
        services.AddHostedService(sp => sp.GetRequiredService<ClusterMetrics>());
        return services;
    }
}
