using System.Globalization;
using System.Text.RegularExpressions;

namespace R1Orleans.Client.Chaos;

/// <summary>
/// One silo process the harness started: its name (<c>s0</c>, <c>s1</c>, …, also passed as its <c>--node</c>, so the
/// cluster status names it), its HTTP URL if it serves the gateway, and what the harness did to it. Its HTTP listens on
/// a port the OS picks as it binds (<c>--urls http://127.0.0.1:0</c>), read from its start-up banner: a port probed
/// free beforehand can be taken by another process in the seconds a silo takes to start.
/// </summary>
public sealed partial class SiloInstance : IAsyncDisposable
{
    /// <summary>How many times a silo is started again when it finds a port taken.</summary>
    private const int PortRestarts = 3;

    /// <summary>
    /// What a silo says of a port another process holds: its start-up check ("... is already in use on ...", exit code 2),
    /// or the socket error of Orleans' own bind when the port was taken after that check ("Address already in use").
    /// </summary>
    private const string PortTaken = "already in use";

    private int _httpPort;
    private int _started;
    private int _portRestarts;
    private Func<ChildProcess> _start = null!;

    private SiloInstance(string name, bool http)
    {
        Name = name;
        Http = http;
        Process = null!;
    }

    public string Name { get; }

    public ChildProcess Process { get; private set; }

    /// <summary>The HTTP port, once the silo has printed it (null before, and for a worker silo).</summary>
    public int? HttpPort => Volatile.Read(ref _httpPort) is > 0 and int port ? port : null;

    public bool Http { get; }

    /// <summary>Its HTTP URL, once known (null before the silo is ready, and for a worker silo).</summary>
    public Uri? Url => HttpPort is int port ? new Uri(string.Create(CultureInfo.InvariantCulture, $"http://127.0.0.1:{port}")) : null;

    /// <summary>The harness killed or terminated it.</summary>
    public bool Gone { get; set; }

    /// <summary>Alive and not stopped: what new requests and <c>worker</c>/<c>gateway</c> targets pick from.</summary>
    public bool Running => !Gone && !Process.Stopped && !Process.HasExited;

    /// <summary>
    /// Starts a silo on free loopback ports (<paramref name="freePort"/>, <see cref="LoopbackPorts.Free"/> unless given):
    /// <paramref name="clusterArgs"/> say how it joins (Redis or localhost clustering), <paramref name="http"/> whether it
    /// serves HTTP (else <c>--no-http</c>), <paramref name="extraArgs"/> go last (--model, …).
    /// </summary>
    public static SiloInstance Start(string name, string silo, bool http, IReadOnlyList<string> clusterArgs, IReadOnlyList<string> extraArgs, string logDirectory, Func<int>? freePort = null)
    {
        freePort ??= LoopbackPorts.Free;
        (string fileName, string[] prefix) = SiloLocator.Command(silo);
        var instance = new SiloInstance(name, http);
        instance._start = () => ChildProcess.Start(
            name,
            fileName,
            [
                .. prefix,
                .. clusterArgs,
                "--silo-port", Port(freePort()),
                "--gateway-port", Port(freePort()),
                .. http ? (string[])["--urls", "http://127.0.0.1:0"] : ["--no-http"],
                "--Logging:LogLevel:Default", "Warning",
                .. extraArgs,
            ],
            Path.Combine(logDirectory, name + ".log"),
            onLine: instance.OnLine);
        instance.Process = instance._start();
        return instance;
    }

    /// <summary>Whether it has printed its ready banner ("r1-silo is ready"): it has bound its ports and joined.</summary>
    public bool Started => Volatile.Read(ref _started) == 1;

    /// <summary>
    /// When it has exited while starting (before its ready banner) because a port probed free for it was taken (by another
    /// program) before it bound it, starts it again on other ports, at most <see cref="PortRestarts"/> times in its life;
    /// true when it did. Its log says each start. A silo that had started is never started again here.
    /// </summary>
    public async Task<bool> RestartIfPortTakenAsync()
    {
        if (!Process.HasExited || _portRestarts >= PortRestarts)
        {
            return false;
        }

        // Its last lines (the banner, or why it stopped) reach OnLine and the log only after it has exited: wait for them.
        await Process.WaitForExitAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false);
        if (Started || !Process.Logged(PortTaken))
        {
            return false;
        }

        await Process.DisposeAsync().ConfigureAwait(false);
        _portRestarts++;
        Volatile.Write(ref _httpPort, 0);
        Process = _start();
        return true;
    }

    public ValueTask DisposeAsync() => Process.DisposeAsync();

    private static string Port(int port) => port.ToString(CultureInfo.InvariantCulture);

    private void OnLine(string line)
    {
        if (line.StartsWith("r1-silo is ready", StringComparison.Ordinal))
        {
            Volatile.Write(ref _started, 1);
        }

        if (Http && BannerHttp().Match(line) is { Success: true } m)
        {
            Volatile.Write(ref _httpPort, int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture));
        }
    }

    /// <summary>The banner's line "  http      http://127.0.0.1:PORT   (OpenAI API under /v1; ...)".</summary>
    [GeneratedRegex(@"^\s*http\s+http://127\.0\.0\.1:(\d+)")]
    private static partial Regex BannerHttp();
}
