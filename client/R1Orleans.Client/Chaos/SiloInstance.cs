using System.Globalization;

namespace R1Orleans.Client.Chaos;

/// <summary>
/// One silo process the harness started: its name (<c>s0</c>, <c>s1</c>, …, also passed as its <c>--node</c>, so the
/// cluster status names it), its HTTP URL if it serves the gateway, and what the harness did to it.
/// </summary>
public sealed class SiloInstance : IAsyncDisposable
{
    private SiloInstance(string name, ChildProcess process, int? httpPort)
    {
        Name = name;
        Process = process;
        HttpPort = httpPort;
    }

    public string Name { get; }

    public ChildProcess Process { get; }

    public int? HttpPort { get; }

    public bool Http => HttpPort is not null;

    public Uri? Url => HttpPort is int port ? new Uri(string.Create(CultureInfo.InvariantCulture, $"http://127.0.0.1:{port}")) : null;

    /// <summary>The harness killed or terminated it.</summary>
    public bool Gone { get; set; }

    /// <summary>Alive and not stopped: what new requests and <c>worker</c>/<c>gateway</c> targets pick from.</summary>
    public bool Running => !Gone && !Process.Stopped && !Process.HasExited;

    /// <summary>
    /// Starts a silo on free loopback ports: <paramref name="clusterArgs"/> say how it joins (Redis or localhost clustering),
    /// <paramref name="http"/> whether it serves HTTP (else <c>--no-http</c>), <paramref name="extraArgs"/> go last (--model, …).
    /// </summary>
    public static SiloInstance Start(string name, string silo, bool http, IReadOnlyList<string> clusterArgs, IReadOnlyList<string> extraArgs, string logDirectory)
    {
        (string fileName, string[] prefix) = SiloLocator.Command(silo);
        int? httpPort = http ? LoopbackPorts.Free() : null;
        string[] args =
        [
            .. prefix,
            .. clusterArgs,
            "--silo-port", Port(LoopbackPorts.Free()),
            "--gateway-port", Port(LoopbackPorts.Free()),
            .. http ? (string[])["--urls", $"http://127.0.0.1:{Port(httpPort!.Value)}"] : ["--no-http"],
            "--Logging:LogLevel:Default", "Warning",
            .. extraArgs,
        ];
        ChildProcess process = ChildProcess.Start(name, fileName, args, Path.Combine(logDirectory, name + ".log"));
        return new SiloInstance(name, process, httpPort);
    }

    public ValueTask DisposeAsync() => Process.DisposeAsync();

    private static string Port(int port) => port.ToString(CultureInfo.InvariantCulture);
}
