using System.Globalization;

namespace R1Orleans.Client.Chaos;

/// <summary>
/// A cluster of silo processes on loopback that the harness starts and owns: a redis-server with persistence, silos
/// <c>s0</c>… joined through it (the first <c>gateways</c> serve HTTP, the rest are workers with <c>--no-http</c>), and the
/// silos that join later. Disposing it stops every process it started.
/// </summary>
public sealed class LocalCluster : IAsyncDisposable
{
    private readonly List<SiloInstance> _silos = [];
    private readonly Lock _lock = new();
    private readonly string _silo;
    private readonly IReadOnlyList<string> _extraArgs;
    private readonly string _directory;
    private readonly Func<int> _freePort;
    private readonly string _clusterId = "chaos-" + Guid.NewGuid().ToString("N")[..12];

    private LocalCluster(string silo, IReadOnlyList<string> extraArgs, string directory, Func<int> freePort)
    {
        _silo = silo;
        _extraArgs = extraArgs;
        _directory = directory;
        _freePort = freePort;
    }

    public RedisInstance? Redis { get; private set; }

    public IReadOnlyList<SiloInstance> Silos
    {
        get
        {
            lock (_lock)
            {
                return [.. _silos];
            }
        }
    }

    /// <summary>
    /// Starts Redis and <paramref name="silos"/> silos (the first <paramref name="gateways"/> with HTTP) on ports from
    /// <paramref name="freePort"/> (<see cref="LoopbackPorts.Free"/> unless given); does not wait for them.
    /// </summary>
    public static async Task<LocalCluster> StartAsync(string silo, int silos, int gateways, IReadOnlyList<string> extraArgs, string directory, CancellationToken cancellationToken, Func<int>? freePort = null)
    {
        var cluster = new LocalCluster(silo, extraArgs, directory, freePort ?? LoopbackPorts.Free);
        try
        {
            cluster.Redis = await RedisInstance.StartAsync(Path.Combine(directory, "redis"), cancellationToken).ConfigureAwait(false);
            for (int i = 0; i < silos; i++)
            {
                cluster.Add(http: i < gateways);
            }

            return cluster;
        }
        catch
        {
            await cluster.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>Starts one more silo that joins the cluster (named after the last).</summary>
    public SiloInstance Add(bool http)
    {
        lock (_lock)
        {
            SiloInstance s = Start(string.Create(CultureInfo.InvariantCulture, $"s{_silos.Count}"), http);
            _silos.Add(s);
            return s;
        }
    }

    /// <summary>
    /// Waits until every HTTP silo is healthy and the first one's <c>/cluster/status</c> lists every silo with a settled
    /// placement; throws naming the silo, how it exited and its log when one exits or the time runs out. A silo that
    /// exited because a port probed free for it was taken before it bound it (by another program on the machine) is
    /// started again on other ports (<see cref="SiloInstance.RestartIfPortTakenAsync"/>).
    /// </summary>
    public async Task WaitReadyAsync(ClusterStatusReader reader, TimeSpan timeout, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(reader);
        for (var deadline = DateTime.UtcNow + timeout; ; await Task.Delay(250, cancellationToken).ConfigureAwait(false))
        {
            IReadOnlyList<SiloInstance> silos = Silos;
            if (silos.FirstOrDefault(s => s.Process.HasExited) is { } dead)
            {
                if (await dead.RestartIfPortTakenAsync().ConfigureAwait(false))
                {
                    continue;
                }

                throw new InvalidOperationException($"silo {dead.Name} exited while the cluster started: {await dead.Process.DescribeExitAsync().ConfigureAwait(false)}");
            }

            SiloInstance first = silos.First(s => s.Http);
            bool healthy = true;
            foreach (SiloInstance s in silos.Where(s => s.Http))
            {
                healthy &= s.Url is { } url && await reader.HealthyAsync(url, cancellationToken).ConfigureAwait(false);
            }

            if (healthy && first.Url is { } firstUrl && await reader.ReadAsync(firstUrl, cancellationToken).ConfigureAwait(false) is { Settled: true } status
                && silos.All(s => status.Silos.Any(o => o.Node == s.Name)))
            {
                return;
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"the cluster of {silos.Count} silos was not ready within {timeout.TotalSeconds:0} s (logs in {_directory})");
            }
        }
    }

    /// <summary>The silo a schedule target names at this moment: <c>sN</c>, or the running <c>worker</c>/<c>gateway</c> of lowest number.</summary>
    public SiloInstance Resolve(string target)
    {
        IReadOnlyList<SiloInstance> silos = Silos;
        return target switch
        {
            "worker" => silos.FirstOrDefault(s => s.Running && !s.Http) ?? throw new InvalidOperationException("no running worker silo to act on"),
            "gateway" => silos.FirstOrDefault(s => s.Running && s.Http) ?? throw new InvalidOperationException("no running gateway silo to act on"),
            _ => silos.FirstOrDefault(s => s.Name == target) ?? throw new InvalidOperationException($"no silo {target}"),
        };
    }

    /// <summary>Starts silo <paramref name="name"/> on fresh loopback ports (its log is appended to).</summary>
    private SiloInstance Start(string name, bool http)
    {
        // --fault-injection: the schedule's delay faults slow a silo's expert replies through the control plane.
        string[] clusterArgs = ["--clustering", "redis", "--redis", Redis!.Address, "--cluster-id", _clusterId, "--fault-injection", "--node", name];
        return SiloInstance.Start(name, _silo, http, clusterArgs, _extraArgs, _directory, _freePort);
    }

    public async ValueTask DisposeAsync()
    {
        foreach (SiloInstance s in Silos)
        {
            await s.DisposeAsync().ConfigureAwait(false);
        }

        if (Redis is not null)
        {
            await Redis.DisposeAsync().ConfigureAwait(false);
        }
    }
}
