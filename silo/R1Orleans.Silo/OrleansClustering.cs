using Orleans.Configuration;
using StackExchange.Redis;

namespace R1Orleans.Silo;

/// <summary>How the silo joins its cluster: localhost (one silo, development clustering) or a Redis membership table.</summary>
public static class OrleansClustering
{
    /// <summary>How long the silo tries to reach Redis at start before it gives up with an error.</summary>
    public static readonly TimeSpan RedisConnectTimeout = TimeSpan.FromSeconds(10);

    public static void Configure(ISiloBuilder silo, SiloOptions options)
    {
        ArgumentNullException.ThrowIfNull(silo);
        ArgumentNullException.ThrowIfNull(options);
        if (!options.UsesRedis)
        {
            silo.UseLocalhostClustering(options.SiloPort, options.GatewayPort, primarySiloEndpoint: null, options.ServiceId, options.ClusterId);
            return;
        }

        silo.Configure<ClusterOptions>(c =>
        {
            c.ClusterId = options.ClusterId;
            c.ServiceId = options.ServiceId;
        });
        silo.ConfigureEndpoints(options.Address, options.SiloPort, options.GatewayPort, listenOnAnyHostAddress: false);
        silo.UseRedisClustering(r =>
        {
            var redis = ConfigurationOptions.Parse(options.Redis!);
            redis.ConnectTimeout = (int)RedisConnectTimeout.TotalMilliseconds;
            redis.AbortOnConnectFail = true;
            redis.ConnectRetry = 1;
            r.ConfigurationOptions = redis;
        });
    }
}
