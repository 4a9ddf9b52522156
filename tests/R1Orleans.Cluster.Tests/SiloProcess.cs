using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;

using R1Orleans.Client.Chaos;
using R1Orleans.Tests.Shared;

namespace R1Orleans.Cluster.Tests;

/// <summary>
/// A real r1-silo process started from the test's own binaries on free loopback ports, its output kept for failure
/// messages, killed (its own PID) on dispose. Its HTTP listens on a port the OS picks as it binds (<c>--urls
/// http://127.0.0.1:0</c>), read from the start-up banner: a port probed free beforehand can be taken by another
/// process's connection in the seconds a silo takes to start, and was, in a CI run.
/// </summary>
internal sealed partial class SiloProcess : IAsyncDisposable
{
    private static readonly TimeSpan BannerTimeout = TimeSpan.FromSeconds(300);
    private readonly Process _process;
    private readonly StringBuilder _output = new();
    private readonly TaskCompletionSource<int>? _httpPort;

    private SiloProcess(Process process, bool http)
    {
        _process = process;
        _httpPort = http ? new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously) : null;
        _process.Exited += (_, _) =>
        {
            // Exited comes before the last output has been read: wait for the streams to end, or the message misses why.
            _process.WaitForExit();
            _httpPort?.TrySetException(new InvalidOperationException($"the silo exited (exit code {_process.ExitCode}) before it printed its HTTP address:\n{Output}"));
        };
        _process.EnableRaisingEvents = true;
        _process.OutputDataReceived += (_, e) => Append(e.Data);
        _process.ErrorDataReceived += (_, e) => Append(e.Data);
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    /// <summary>The HTTP port, once the silo has started and printed it (waits for it; null for a worker silo).</summary>
    public int? HttpPort
    {
        get
        {
            if (_httpPort is null)
            {
                return null;
            }

            if (!_httpPort.Task.Wait(BannerTimeout))
            {
                throw new TimeoutException($"the silo printed no HTTP address within {BannerTimeout.TotalSeconds} s:\n{Output}");
            }

            return _httpPort.Task.Result;
        }
    }

    public Uri Url => new($"http://127.0.0.1:{HttpPort ?? throw new InvalidOperationException("a worker silo has no HTTP")}");

    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    public bool HasExited => _process.HasExited;

    /// <summary>kill -9 (SIGKILL) of this silo's own process: no shutdown, no goodbye to the cluster.</summary>
    public void KillNow() => _process.Kill();

    /// <summary>Starts a silo; <paramref name="http"/> false makes it a worker (--no-http).</summary>
    public static SiloProcess Start(bool http, IReadOnlyDictionary<string, string> environment, params string[] args)
    {
        string silo = Path.Combine(AppContext.BaseDirectory, "r1-silo.dll");
        string dotnet = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host ? host : "dotnet";
        var start = new ProcessStartInfo(dotnet) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string a in (string[])[silo, .. args, "--silo-port", $"{LoopbackPorts.Free()}", "--gateway-port", $"{LoopbackPorts.Free()}", "--kv-cache-tokens", "4096",
            .. http ? (string[])["--urls", "http://127.0.0.1:0"] : ["--no-http"]])
        {
            start.ArgumentList.Add(a);
        }

        foreach ((string key, string value) in environment)
        {
            start.Environment[key] = value;
        }

        return new SiloProcess(Process.Start(start)!, http);
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
        }

        await _process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(20)).ConfigureAwait(false);
        _process.Dispose();
    }

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_output)
        {
            _output.AppendLine(line);
        }

        if (_httpPort is not null && BannerHttp().Match(line) is { Success: true } m)
        {
            _httpPort.TrySetResult(int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture));
        }
    }

    /// <summary>The banner's line "  http      http://127.0.0.1:PORT   (OpenAI API under /v1; ...)".</summary>
    [GeneratedRegex(@"^\s*http\s+http://127\.0\.0\.1:(\d+)")]
    private static partial Regex BannerHttp();
}
