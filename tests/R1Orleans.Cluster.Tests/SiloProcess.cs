using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

using R1Orleans.Tests.Shared;

namespace R1Orleans.Cluster.Tests;

/// <summary>
/// A real r1-silo process started from the test's own binaries on free loopback ports, its output kept for failure
/// messages, killed (its own PID) on dispose.
/// </summary>
internal sealed class SiloProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();

    private SiloProcess(Process process, int? httpPort)
    {
        _process = process;
        HttpPort = httpPort;
        _process.OutputDataReceived += (_, e) => Append(e.Data);
        _process.ErrorDataReceived += (_, e) => Append(e.Data);
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    public int? HttpPort { get; }

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
        int? httpPort = http ? TestPorts.Free() : null;
        foreach (string a in (string[])[silo, .. args, "--silo-port", $"{TestPorts.Free()}", "--gateway-port", $"{TestPorts.Free()}", "--kv-cache-tokens", "4096",
            .. http ? (string[])["--urls", $"http://127.0.0.1:{httpPort}"] : ["--no-http"]])
        {
            start.ArgumentList.Add(a);
        }

        foreach ((string key, string value) in environment)
        {
            start.Environment[key] = value;
        }

        return new SiloProcess(Process.Start(start)!, httpPort);
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
    }
}
