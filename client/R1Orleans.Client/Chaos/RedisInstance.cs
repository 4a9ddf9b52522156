using System.Globalization;

namespace R1Orleans.Client.Chaos;

/// <summary>
/// The redis-server the harness starts for a local cluster: 127.0.0.1 on a free port, its own directory, persistence on
/// (<c>--appendonly yes</c>, as the silo's docs ask). A restart keeps port and directory; a wiped restart empties the
/// directory first, which is what a restart without persistence looks like to the silos.
/// </summary>
public sealed class RedisInstance : IAsyncDisposable
{
    private readonly string _executable;
    private readonly string _directory;
    private readonly string _logPath;
    private ChildProcess? _process;

    private RedisInstance(string executable, string directory, string logPath, int port)
    {
        _executable = executable;
        _directory = directory;
        _logPath = logPath;
        Port = port;
    }

    public int Port { get; }

    /// <summary>HOST:PORT, as the silos' --redis takes it.</summary>
    public string Address => string.Create(CultureInfo.InvariantCulture, $"127.0.0.1:{Port}");

    public int? Pid => _process?.Pid;

    public static async Task<RedisInstance> StartAsync(string directory, CancellationToken cancellationToken)
    {
        string executable = FindExecutable() ?? throw new InvalidOperationException("redis-server is not on PATH: apt-get install -y redis-server");
        Directory.CreateDirectory(directory);
        var redis = new RedisInstance(executable, directory, Path.Combine(directory, "redis.log"), LoopbackPorts.Free());
        await redis.StartProcessAsync(cancellationToken).ConfigureAwait(false);
        return redis;
    }

    /// <summary>Stops Redis (SIGTERM, so the AOF is complete), waits <paramref name="down"/>, empties its directory if <paramref name="wipe"/>, starts it again.</summary>
    public async Task RestartAsync(bool wipe, TimeSpan down, CancellationToken cancellationToken)
    {
        await StopAsync().ConfigureAwait(false);
        if (down > TimeSpan.Zero)
        {
            await Task.Delay(down, cancellationToken).ConfigureAwait(false);
        }

        if (wipe)
        {
            foreach (string entry in Directory.EnumerateFileSystemEntries(_directory).Where(e => e != _logPath))
            {
                if (Directory.Exists(entry))
                {
                    Directory.Delete(entry, recursive: true);
                }
                else
                {
                    File.Delete(entry);
                }
            }
        }

        await StartProcessAsync(cancellationToken).ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync() => await StopAsync().ConfigureAwait(false);

    private async Task StopAsync()
    {
        if (_process is null)
        {
            return;
        }

        _process.Signal(PosixSignals.SigTerm);
        await _process.WaitForExitAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(false);
        await _process.DisposeAsync().ConfigureAwait(false);
        _process = null;
    }

    private async Task StartProcessAsync(CancellationToken cancellationToken)
    {
        string[] args = ["--port", Port.ToString(CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "--dir", _directory, "--save", "", "--appendonly", "yes", "--protected-mode", "yes"];
        ChildProcess process = ChildProcess.Start("redis", _executable, args, _logPath, _directory);
        if (!await LoopbackPorts.AcceptsAsync(Port, TimeSpan.FromSeconds(15), () => process.HasExited, cancellationToken).ConfigureAwait(false))
        {
            string why = process.HasExited
                ? $"redis-server exited before it accepted connections on {Port}: {await process.DescribeExitAsync().ConfigureAwait(false)}"
                : $"redis-server did not accept connections on {Port} within 15 s:\n{process.Tail()}";
            await process.DisposeAsync().ConfigureAwait(false);
            throw new InvalidOperationException(why);
        }

        _process = process;
    }

    private static string? FindExecutable() =>
        (Environment.GetEnvironmentVariable("PATH") ?? "/usr/bin").Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Select(d => Path.Combine(d, "redis-server"))
            .FirstOrDefault(File.Exists);
}
