using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orleans.Streams;
using R1Orleans.Grains.Balancing;
using R1Orleans.Placement.Balancing;

namespace R1Orleans.Cluster;

/// <summary>
/// A silo's side of load balancing: every <see cref="ClusterNodeOptions.LoadWindow"/> it closes its rank's window of
/// expert load (tokens per (layer, expert, replica) as its router chose them) and publishes it on the load balancer's
/// stream; and, on the cluster's oldest active silo only, it asks the load balancer to rebalance every
/// <see cref="ClusterNodeOptions.RebalanceInterval"/>. A silo service, not a grain timer: it survives the loss of
/// the balancer's activation (CLUSTER.md).
/// </summary>
public sealed partial class LoadWindowPublisher(ClusterNode node, IClusterClient client, IClusterMembershipService membership, ILogger<LoadWindowPublisher> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        ClusterNodeOptions options = node.Options;
        DateTime nextRebalance = DateTime.UtcNow + (options.RebalanceInterval ?? TimeSpan.Zero);
        IAsyncStream<ExpertLoadWindowDto>? stream = null;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(options.LoadWindow, stoppingToken).ConfigureAwait(false);
                if (node.RankExchangeInstance is { } exchange && node.View.Current is not null)
                {
                    // Empty windows too: the balancer tells a lost window (a gap in the numbers) from an idle one.
                    ExpertLoadWindow window = exchange.Load.CloseWindow(node.Self.Silo);
                    stream ??= client.GetStreamProvider(LoadStreams.Provider).GetStream<ExpertLoadWindowDto>(StreamId.Create(LoadStreams.Namespace, LoadStreams.Key));
                    await stream.OnNextAsync(ExpertLoadWindowDto.From(window)).WaitAsync(TimeSpan.FromSeconds(5), stoppingToken).ConfigureAwait(false);
                }

                if (options.RebalanceInterval is { } interval && DateTime.UtcNow >= nextRebalance)
                {
                    nextRebalance = DateTime.UtcNow + interval;
                    if (IsOldestActiveSilo())
                    {
                        RebalanceReport report = await client.GetGrain<ILoadBalancerGrain>(LoadStreams.Key).Rebalance(force: false).WaitAsync(TimeSpan.FromSeconds(30), stoppingToken).ConfigureAwait(false);
                        LogRebalance(logger, report.Outcome);
                    }
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                break;
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                // Statistics: a window lost to a busy or moving balancer only weakens the estimate.
                LogFailed(logger, e.Message);
            }
        }
    }

    /// <summary>One silo triggers the periodic rebalance: the active one that started first (lowest generation, then address).</summary>
    private bool IsOldestActiveSilo()
    {
        Orleans.Runtime.ClusterMember? oldest = membership.CurrentSnapshot.Members.Values
            .Where(m => m.Status == SiloStatus.Active)
            .OrderBy(m => m.SiloAddress.Generation)
            .ThenBy(m => m.SiloAddress.ToParsableString(), StringComparer.Ordinal)
            .FirstOrDefault();
        return oldest is not null && oldest.SiloAddress.ToParsableString() == node.Self.Silo.Value;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "periodic rebalance: {Outcome}")]
    private static partial void LogRebalance(ILogger logger, string outcome);

    [LoggerMessage(Level = LogLevel.Debug, Message = "load window not published: {Reason}")]
    private static partial void LogFailed(ILogger logger, string reason);
}
