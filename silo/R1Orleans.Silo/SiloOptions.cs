using System.Net;
using Microsoft.Extensions.Options;

namespace R1Orleans.Silo;

/// <summary>How the silo joins its Orleans cluster (configuration section "Silo"; not "Orleans", which Orleans reads for its own provider settings).</summary>
public sealed class SiloOptions
{
    public const string Section = "Silo";

    public const string LocalhostClustering = "localhost";

    public const string RedisClustering = "redis";

    /// <summary>localhost (one silo, development clustering, the default) or redis (several silos through a Redis membership table).</summary>
    public string Clustering { get; set; } = LocalhostClustering;

    /// <summary>The Redis server of the membership table, HOST:PORT (with redis clustering).</summary>
    public string? Redis { get; set; }

    public string ClusterId { get; set; } = "r1orleans";

    public string ServiceId { get; set; } = "r1orleans";

    public int SiloPort { get; set; } = 11_111;

    public int GatewayPort { get; set; } = 30_000;

    /// <summary>The address other silos reach this one at (and the one it listens on); default 127.0.0.1.</summary>
    public string AdvertisedAddress { get; set; } = "127.0.0.1";

    public bool UsesRedis => string.Equals(Clustering, RedisClustering, StringComparison.OrdinalIgnoreCase);

    public IPAddress Address => IPAddress.TryParse(AdvertisedAddress, out IPAddress? a) ? a : IPAddress.Loopback;
}

/// <summary>Checks <see cref="SiloOptions"/> at start; every message names the setting and its switch.</summary>
public sealed class SiloOptionsValidator : IValidateOptions<SiloOptions>
{
    public ValidateOptionsResult Validate(string? name, SiloOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var errors = new List<string>();
        if (!string.Equals(options.Clustering, SiloOptions.LocalhostClustering, StringComparison.OrdinalIgnoreCase) && !options.UsesRedis)
        {
            errors.Add($"Silo:Clustering (--clustering) is '{options.Clustering}'; it must be localhost or redis");
        }

        if (options.UsesRedis)
        {
            if (string.IsNullOrWhiteSpace(options.Redis))
            {
                errors.Add("Silo:Redis (--redis) is required with --clustering redis: give the membership table's server as HOST:PORT");
            }
            else if (!IsHostPort(options.Redis))
            {
                errors.Add($"Silo:Redis (--redis) is '{options.Redis}'; expected HOST:PORT, e.g. 127.0.0.1:6379");
            }
        }

        foreach ((string setting, string value) in (ReadOnlySpan<(string, string)>)[("Silo:ClusterId (--cluster-id)", options.ClusterId), ("Silo:ServiceId", options.ServiceId)])
        {
            if (string.IsNullOrWhiteSpace(value) || value.Any(char.IsWhiteSpace))
            {
                errors.Add($"{setting} is '{value}'; it must be a non-empty name without spaces");
            }
        }

        Port(errors, "Silo:SiloPort (--silo-port)", options.SiloPort);
        Port(errors, "Silo:GatewayPort (--gateway-port)", options.GatewayPort);
        if (options.SiloPort != 0 && options.SiloPort == options.GatewayPort)
        {
            errors.Add($"Silo:SiloPort (--silo-port) and Silo:GatewayPort (--gateway-port) are both {options.SiloPort}; they must differ");
        }

        if (!IPAddress.TryParse(options.AdvertisedAddress, out _))
        {
            errors.Add($"Silo:AdvertisedAddress is '{options.AdvertisedAddress}'; expected an IP address");
        }

        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }

    /// <summary>True for HOST:PORT with a port in 1..65535.</summary>
    public static bool IsHostPort(string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        int colon = value.LastIndexOf(':');
        return colon > 0 && int.TryParse(value.AsSpan(colon + 1), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int port)
            && port is > 0 and <= 65_535 && !value[..colon].Any(char.IsWhiteSpace);
    }

    private static void Port(List<string> errors, string setting, int port)
    {
        if (port is < 0 or > 65_535)
        {
            errors.Add($"{setting} is {port}; it must be between 0 and 65535");
        }
    }
}

/// <summary>What this silo is within the serving cluster (configuration section "Cluster").</summary>
public sealed class ClusterServingOptions
{
    public const string Section = "Cluster";

    /// <summary>The machine identity the node limit counts (several silos may share a node); default the host name.</summary>
    public string? Node { get; set; }

    /// <summary>A worker silo: no HTTP gateway (it still serves as an attention rank and an expert holder).</summary>
    public bool NoHttp { get; set; }

    /// <summary>Copies of each routed expert across silos.</summary>
    public int ExpertReplicas { get; set; } = 1;

    /// <summary>Most nodes one token's experts may span (DeepSeek-V3's node-limited routing: 4).</summary>
    public int MaxNodesPerToken { get; set; } = 4;

    /// <summary>The data plane between silos: ucx (default; shared memory, TCP or RDMA as UCX finds them) or orleans (grain calls).</summary>
    public string Exchange { get; set; } = "ucx";

    /// <summary>How long a step waits for one expert holder before it fails naming the silo and the layer.</summary>
    public double StepDeadlineSeconds { get; set; } = 30;

    /// <summary>Redundant expert slots per MoE layer the load balancer fills with copies of hot experts.</summary>
    public int RedundantExperts { get; set; }

    /// <summary>Seconds between automatic rebalances (0: only `r1 experts rebalance`); the cluster's oldest silo triggers them.</summary>
    public double RebalanceIntervalSeconds { get; set; } = 60;

    /// <summary>Lets the control plane inject faults here (the chaos harness's reply delay); off in production.</summary>
    public bool FaultInjection { get; set; }

    /// <summary>Bias mode on a cluster (--online-bias): seconds between the load balancer's bias updates (each pushed to every silo).</summary>
    public double BiasIntervalSeconds { get; set; } = 2;

    /// <summary>The node name in effect.</summary>
    public string NodeName => string.IsNullOrWhiteSpace(Node) ? Environment.MachineName : Node;
}

/// <summary>Checks <see cref="ClusterServingOptions"/> at start.</summary>
public sealed class ClusterServingOptionsValidator : IValidateOptions<ClusterServingOptions>
{
    public ValidateOptionsResult Validate(string? name, ClusterServingOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var errors = new List<string>();
        if (options.Node is not null && (string.IsNullOrWhiteSpace(options.Node) || options.Node.Any(char.IsWhiteSpace)))
        {
            errors.Add($"Cluster:Node (--node) is '{options.Node}'; it must be a non-empty name without spaces");
        }

        if (options.ExpertReplicas is < 1 or > 64)
        {
            errors.Add($"Cluster:ExpertReplicas (--expert-replicas) is {options.ExpertReplicas}; it must be between 1 and 64");
        }

        if (!string.Equals(options.Exchange, "ucx", StringComparison.OrdinalIgnoreCase) && !string.Equals(options.Exchange, "orleans", StringComparison.OrdinalIgnoreCase))
        {
            errors.Add($"Cluster:Exchange (--exchange) is '{options.Exchange}'; it must be ucx or orleans");
        }

        if (options.StepDeadlineSeconds is <= 0 or > 3600)
        {
            errors.Add($"Cluster:StepDeadlineSeconds is {options.StepDeadlineSeconds}; it must be above 0 and at most 3600");
        }

        if (options.RedundantExperts is < 0 or > 4096)
        {
            errors.Add($"Cluster:RedundantExperts (--redundant-experts) is {options.RedundantExperts}; it must be between 0 and 4096");
        }

        if (options.RebalanceIntervalSeconds is < 0 or > 86_400 || double.IsNaN(options.RebalanceIntervalSeconds))
        {
            errors.Add($"Cluster:RebalanceIntervalSeconds (--rebalance-interval) is {options.RebalanceIntervalSeconds}; it must be between 0 (off) and 86400 seconds");
        }

        if (options.BiasIntervalSeconds is < 0.05 or > 3600 || double.IsNaN(options.BiasIntervalSeconds))
        {
            errors.Add($"Cluster:BiasIntervalSeconds (--bias-interval) is {options.BiasIntervalSeconds}; it must be between 0.05 and 3600 seconds");
        }

        if (options.MaxNodesPerToken is < 1 or > 1024)
        {
            errors.Add($"Cluster:MaxNodesPerToken (--max-nodes-per-token) is {options.MaxNodesPerToken}; it must be between 1 and 1024");
        }

        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
