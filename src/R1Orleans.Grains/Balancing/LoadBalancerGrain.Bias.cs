using Microsoft.Extensions.Logging;
using R1Orleans.Grains.Cluster;
using R1Orleans.Grains.Ranks;

namespace R1Orleans.Grains.Balancing;

/// <summary>Bias mode's side of the load balancer: one gate bias for the cluster, moved and pushed every period.</summary>
public sealed partial class LoadBalancerGrain
{
    private static readonly TimeSpan PushTimeout = TimeSpan.FromSeconds(5);
    private ClusterGateBias? _bias;
    private bool _biasAdopted;
    private string[] _pushedTo = [];
    private string[] _pushFailed = [];

    /// <summary>
    /// Bias mode's period: the next bias from the windows gathered since the last one (none when nothing was routed),
    /// pushed to every member's rank, whose next step takes it. Every period re-pushes the current version, so a silo
    /// that joined or missed a push catches up within one period. The first period after activation adopts the newest
    /// version the ranks report, so a moved balancer continues the sequence rather than restarting it.
    /// </summary>
    private async Task PushBiasAsync(CancellationToken cancellation)
    {
        ClusterGateBias bias = _bias!;
        PlacementSnapshot snapshot = await GrainFactory.GetGrain<IPlacementDirectoryGrain>(IPlacementDirectoryGrain.DefaultKey).Snapshot().ConfigureAwait(true);
        string[] silos = [.. snapshot.Members.Select(m => m.Silo)];
        if (!_biasAdopted)
        {
            GateBiasDto?[] seen = await Task.WhenAll(silos.Select(async s =>
            {
                try
                {
                    return await GrainFactory.GetGrain<IRankGrain>(s).CurrentGateBias().WaitAsync(PushTimeout, cancellation).ConfigureAwait(true);
                }
                catch (Exception e) when (e is not OutOfMemoryException)
                {
                    return null;
                }
            })).ConfigureAwait(true);
            foreach (GateBiasDto dto in seen.OfType<GateBiasDto>())
            {
                bias.Adopt(dto.ToGateBias());
            }

            _biasAdopted = true;
        }

        if (bias.Update() is { } update)
        {
            LogBias(logger, update.Bias.Version, update.Drift.Values.DefaultIfEmpty().Max(), string.Join(" ", update.ImbalanceBefore.Where(p => !double.IsNaN(p.Value)).Select(p => $"{p.Key}:{p.Value:0.###}")));
        }

        if (bias.Current.Version == 0)
        {
            return;
        }

        GateBiasDto current = GateBiasDto.From(bias.Current);
        (string Silo, long Version)[] pushed = await Task.WhenAll(silos.Select(async s =>
        {
            try
            {
                return (s, await GrainFactory.GetGrain<IRankGrain>(s).ApplyGateBias(current).WaitAsync(PushTimeout, cancellation).ConfigureAwait(true));
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                LogPushFailed(logger, s, e.Message);
                return (s, -1L);
            }
        })).ConfigureAwait(true);
        if (pushed.Any(p => p.Version > current.Version))
        {
            // A rank routes with a newer version than this activation knows (it missed the ranks at its first period):
            // adopt it at the next period, so that the sequence continues from there.
            _biasAdopted = false;
        }

        _pushedTo = [.. pushed.Where(p => p.Version >= current.Version).Select(p => p.Silo)];
        _pushFailed = [.. pushed.Where(p => p.Version < current.Version).Select(p => p.Silo)];
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "gate bias v{Version}: max drift {Drift:0.####}; expert imbalance (max/mean) of its window by layer {Imbalance}")]
    private static partial void LogBias(ILogger logger, long version, double drift, string imbalance);

    [LoggerMessage(Level = LogLevel.Warning, Message = "gate bias not pushed to {Silo}: {Reason}")]
    private static partial void LogPushFailed(ILogger logger, string silo, string reason);
}
