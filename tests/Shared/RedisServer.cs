using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using R1Orleans.Client.Chaos;

namespace R1Orleans.Tests.Shared;

/// <summary>
/// A real redis-server on a free loopback port, in its own temporary directory, stopped (its own PID) on dispose.
/// .ci/run installs redis-server when it is missing; a machine without it fails the test that needs it, with a message.
/// </summary>
public sealed class RedisServer : IAsyncDisposable
{
    private readonly string _directory;
    private readonly bool _appendOnly;
    private Process _process;

    private RedisServer(Process process, string directory, int port, bool appendOnly)
    {
        _process = process;
        _directory = directory;
        _appendOnly = appendOnly;
        Port = port;
    }

    public int Port { get; }

    /// <summary>HOST:PORT, as --redis takes it.</summary>
    public string Address => $"127.0.0.1:{Port}";

    public static async Task<RedisServer> StartAsync(bool appendOnly = true)
    {
        string executable = FindExecutable() ?? throw new InvalidOperationException(
            "redis-server is not installed: apt-get install -y redis-server (.ci/run does this)");
        string directory = Directory.CreateTempSubdirectory("r1-redis-").FullName;
        for (int attempt = 0; ; attempt++)
        {
            int port = LoopbackPorts.Free();
            Process process = Launch(executable, directory, port, appendOnly);
            if (await AcceptsAsync(port, process, TimeSpan.FromSeconds(10)))
            {
                return new RedisServer(process, directory, port, appendOnly);
            }

            Stop(process);
            if (attempt == 2)
            {
                throw new InvalidOperationException($"redis-server did not start on port {port}");
            }
        }
    }

    /// <summary>Kills redis-server (its own PID) and waits until it is gone: the silos see Redis down.</summary>
    public async Task StopAsync()
    {
        Stop(_process);
        await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(false);
    }

    /// <summary>Starts redis-server again on the same port, from its directory emptied first when <paramref name="wipe"/>.</summary>
    public async Task StartAgainAsync(bool wipe)
    {
        if (wipe)
        {
            foreach (string file in Directory.EnumerateFiles(_directory, "*", SearchOption.AllDirectories))
            {
                File.Delete(file);
            }
        }

        _process.Dispose();
        _process = Launch(FindExecutable()!, _directory, Port, _appendOnly);
        if (!await AcceptsAsync(Port, _process, TimeSpan.FromSeconds(10)).ConfigureAwait(false))
        {
            throw new InvalidOperationException($"redis-server did not start again on port {Port}");
        }
    }

    public async ValueTask DisposeAsync()
    {
        Stop(_process);
        await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(10)).ConfigureAwait(false);
        _process.Dispose();
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private static Process Launch(string executable, string directory, int port, bool appendOnly)
    {
        var start = new ProcessStartInfo(executable)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = directory,
        };
        foreach (string a in (string[])["--port", $"{port}", "--bind", "127.0.0.1", "--dir", directory, "--save", "", "--appendonly", appendOnly ? "yes" : "no", "--protected-mode", "yes"])
        {
            start.ArgumentList.Add(a);
        }

        Process process = Process.Start(start)!;
        _ = process.StandardOutput.ReadToEndAsync();
        _ = process.StandardError.ReadToEndAsync();
        return process;
    }

    private static void Stop(Process process)
    {
        if (!process.HasExited)
        {
            process.Kill(entireProcessTree: true);
        }
    }

    private static async Task<bool> AcceptsAsync(int port, Process process, TimeSpan timeout)
    {
        for (var deadline = DateTime.UtcNow + timeout; DateTime.UtcNow < deadline && !process.HasExited; await Task.Delay(50).ConfigureAwait(false))
        {
            try
            {
                using var client = new TcpClient();
                await client.ConnectAsync(IPAddress.Loopback, port).ConfigureAwait(false);
                return true;
            }
            catch (SocketException)
            {
            }
        }

        return false;
    }

    private static string? FindExecutable() =>
        (Environment.GetEnvironmentVariable("PATH") ?? "/usr/bin").Split(':')
            .Select(d => Path.Combine(d, "redis-server"))
            .FirstOrDefault(File.Exists);
}
