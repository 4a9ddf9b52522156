using System.Diagnostics.Metrics;
using Microsoft.Extensions.Options;
using Orleans.Clustering.Redis;
using Orleans.Configuration;
using R1Orleans.Cluster.Membership;
using R1Orleans.Gateway.Membership;
using StackExchange.Redis;

namespace R1Orleans.Silo.Membership;

/// <summary>
/// Keeps a Redis-clustered silo's membership table alive across Redis restarts. Every second it reads the table: a
/// failed read makes the store unreachable (shown by /health, /cluster/status and a gauge; the silo keeps serving from
/// the membership it holds); a table that is gone, or lacks the row of a silo this silo sees as active (Redis came back
/// without its data), is written back from the rows last seen (<see cref="MembershipTableMemory"/> decides), so the old
/// silos stay one cluster and a silo that starts afterwards joins them instead of forming a second one. Warns once at
/// start when Redis runs without <c>appendonly</c>.
/// </summary>
public sealed partial class MembershipTableKeeper(
    IOptions<SiloOptions> silo,
    IOptions<RedisClusteringOptions> redisClustering,
    IOptions<ClusterOptions> cluster,
    IClusterMembershipService membership,
    ILocalSiloDetails localSilo,
    MembershipStoreStatus status,
    IMeterFactory meters,
    ILogger<MembershipTableKeeper> logger) : BackgroundService
{
    public const string MeterName = "R1Orleans.Membership";

    /// <summary>How often the table is read.</summary>
    public static readonly TimeSpan Period = TimeSpan.FromSeconds(1);

    private readonly MembershipTableMemory _memory = new();
    private long _restores;
    private DateTimeOffset? _lastRestore;
    private DateTimeOffset? _unreachableSince;
    private string _persistence = "unknown";

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        string address = silo.Value.Redis!;
        using Meter meter = meters.Create(MeterName);
        _ = meter.CreateObservableGauge("r1orleans.membership_store_reachable", () => status.Report?.Reachable is false ? 0 : 1, null,
            "1 while the membership table's Redis answers, 0 while it does not (the silo keeps serving from the membership it holds).");
        _ = meter.CreateObservableCounter("r1orleans.membership_table_restores", () => Interlocked.Read(ref _restores), null,
            "Times this silo found the membership table, or a live member's row, gone (Redis restarted without its data) and wrote them back.");

        await using RedisMembershipStore store = await RedisMembershipStore.ConnectAsync(address, redisClustering.Value.CreateRedisKey(cluster.Value)).ConfigureAwait(false);
        _persistence = await store.PersistenceAsync().ConfigureAwait(false);
        if (_persistence == "none")
        {
            LogNoPersistence(logger, address);
        }

        using var timer = new PeriodicTimer(Period);
        do
        {
            try
            {
                await CheckAsync(store, address, stoppingToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is not OperationCanceledException and not OutOfMemoryException)
            {
                // Never stop the silo over its watch of the table: log, and look again next period.
                LogCheckFailed(logger, e);
            }
        }
        while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false));
    }

    private async Task CheckAsync(RedisMembershipStore store, string address, CancellationToken cancellationToken)
    {
        MembershipTableRead read;
        try
        {
            read = await store.ReadAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception e) when (e is RedisException or TimeoutException)
        {
            if (_unreachableSince is null)
            {
                _unreachableSince = DateTimeOffset.UtcNow;
                LogUnreachable(logger, address, Brief(e.Message));
            }

            Publish(address, Brief(e.Message));
            return;
        }

        bool cameBack = _unreachableSince is not null;
        if (cameBack)
        {
            LogReachable(logger, address, DateTimeOffset.UtcNow - _unreachableSince!.Value);
            _unreachableSince = null;
            _persistence = await store.PersistenceAsync().ConfigureAwait(false);
        }

        ClusterMembershipSnapshot view = membership.CurrentSnapshot;
        bool selfActive = view.GetSiloStatus(localSilo.SiloAddress) == SiloStatus.Active;

        // Another silo wrote the table back (its version jumped far past this silo's view): read it now, too.
        cameBack |= read.Version is long stored && stored - view.Version.Value >= MembershipTableMemory.VersionMargin;
        var active = view.Members.Values.Where(m => m.Status == SiloStatus.Active).Select(m => m.SiloAddress.ToString()).ToHashSet(StringComparer.Ordinal);
        MembershipTableRestore? restore = _memory.Observe(read, active, view.Version.Value);
        if (restore is not null && selfActive)
        {
            try
            {
                if (await store.RestoreAsync(restore, cancellationToken).ConfigureAwait(false) is long version)
                {
                    _ = Interlocked.Increment(ref _restores);
                    _lastRestore = DateTimeOffset.UtcNow;
                    LogRestored(logger, read.Version is null ? "gone" : "missing live members' rows", restore.Rows.Count, version);
                }

                cameBack = true;
            }
            catch (Exception e) when (e is RedisException or TimeoutException)
            {
                LogRestoreFailed(logger, Brief(e.Message));
            }
        }

        Publish(address, null);
        if (cameBack && selfActive)
        {
            // Read the table now rather than after Orleans' refresh backs off (up to a minute after failed reads).
            try
            {
                await membership.Refresh(default, cancellationToken).AsTask().WaitAsync(RedisMembershipStore.CommandTimeout * 3, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (e is OrleansException or RedisException or TimeoutException)
            {
                LogRefreshFailed(logger, e.Message);
            }
        }
    }

    /// <summary>A client error's first clause (StackExchange.Redis appends a page of connection diagnostics).</summary>
    internal static string Brief(string message)
    {
        string line = message.Split('\n')[0];
        int cut = line.IndexOf(" (", StringComparison.Ordinal) is int p and > 0 ? p : line.IndexOf(" - ", StringComparison.Ordinal);
        line = cut > 0 ? line[..cut] : line;
        return line.Length > 200 ? line[..200] : line;
    }

    private void Publish(string address, string? error) =>
        status.Publish(new MembershipStoreReport($"redis {address}", error is null, _unreachableSince, error, _persistence, Interlocked.Read(ref _restores), _lastRestore));

    [LoggerMessage(Level = LogLevel.Warning, Message = "Redis at {Address} runs without persistence (appendonly no): a restart loses the membership table. Silos write it back (docs/FAILOVER.md), but run redis-server --appendonly yes (or CONFIG SET appendonly yes) so a restart keeps it")]
    private static partial void LogNoPersistence(ILogger logger, string address);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The membership table's Redis at {Address} does not answer ({Error}); this silo keeps serving from the membership it holds, but no silo can join or be evicted until it answers")]
    private static partial void LogUnreachable(ILogger logger, string address, string error);

    [LoggerMessage(Level = LogLevel.Information, Message = "The membership table's Redis at {Address} answers again after {Down}")]
    private static partial void LogReachable(ILogger logger, string address, TimeSpan down);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The membership table was {What} (Redis restarted without its data?): wrote back {Rows} rows of live members, table version {Version}")]
    private static partial void LogRestored(ILogger logger, string what, int rows, long version);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Writing the membership table back failed, retrying in a second: {Error}")]
    private static partial void LogRestoreFailed(ILogger logger, string error);

    [LoggerMessage(Level = LogLevel.Error, Message = "Checking the membership table failed; checking again in a second")]
    private static partial void LogCheckFailed(ILogger logger, Exception exception);

    [LoggerMessage(Level = LogLevel.Information, Message = "Refreshing the membership view failed (Orleans retries by itself): {Error}")]
    private static partial void LogRefreshFailed(ILogger logger, string error);
}
