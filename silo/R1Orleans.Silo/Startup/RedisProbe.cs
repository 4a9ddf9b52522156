using StackExchange.Redis;

namespace R1Orleans.Silo.Startup;

/// <summary>
/// Connects to the membership table's Redis once before Orleans starts, so an unreachable server is one clear error
/// within <see cref="OrleansClustering.RedisConnectTimeout"/> (exit code 1) instead of the runtime's start-up failure.
/// </summary>
public static class RedisProbe
{
    public static async Task EnsureReachableAsync(string redis, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(redis);
        var options = ConfigurationOptions.Parse(redis);
        options.ConnectTimeout = (int)OrleansClustering.RedisConnectTimeout.TotalMilliseconds;
        options.AbortOnConnectFail = true;
        options.ConnectRetry = 1;
        try
        {
            await using ConnectionMultiplexer connection = await ConnectionMultiplexer.ConnectAsync(options).WaitAsync(OrleansClustering.RedisConnectTimeout * 2, cancellationToken).ConfigureAwait(false);
            _ = await connection.GetDatabase().PingAsync().ConfigureAwait(false);
        }
        catch (Exception e) when (e is RedisException or TimeoutException)
        {
            throw new StartupException(
                $"cannot reach Redis at {redis} (--redis), the cluster's membership table: {e.Message.Split('.')[0]}. " +
                "Start redis-server (with --appendonly yes, so that a restart keeps the cluster) or point --redis at it", e);
        }
    }
}
