using Orleans.Configuration;
using R1Orleans.Cluster;
using StackExchange.Redis;

namespace R1Orleans.Silo;

/// <summary>How the silo joins its cluster: localhost (one silo, development clustering) or a Redis membership table.</summary>
public static class OrleansClustering
{
    /// <summary>How long the silo tries to reach Redis at start before it gives up with an error.</summary>
    public static readonly TimeSpan RedisConnectTimeout = TimeSpan.FromSeconds(10);

    /// <summary>Period and timeout of membership probes between silos of a Redis cluster.</summary>
    public static readonly TimeSpan MembershipProbeTimeout = TimeSpan.FromSeconds(1);

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

        // Failure detection (docs/FAILOVER.md): a silo is probed every second and suspected after three missed probes
        // (Orleans' default is 5 s and 3 probes: ~15 s); two votes declare it dead; the table is re-read every 2 s and
        // changes spread by gossip. A probe's timeout stretches while this silo itself is degraded (a loaded machine),
        // so a busy silo is not declared dead for being slow. The data path notices first anyway (UCX peer errors and
        // step deadlines re-dispatch at once); membership only decides when the placement drops the silo.
        silo.Configure<ClusterMembershipOptions>(m =>
        {
            m.ProbeTimeout = MembershipProbeTimeout;
            m.NumMissedProbesLimit = 3;
            m.NumVotesForDeathDeclaration = 2;
            m.TableRefreshTimeout = TimeSpan.FromSeconds(2);
            m.ExtendProbeTimeoutDuringDegradation = true;
        });
        silo.AddR1LoadStreams();
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
