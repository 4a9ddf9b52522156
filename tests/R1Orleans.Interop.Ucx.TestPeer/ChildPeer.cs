using System.Diagnostics;

namespace R1Orleans.Interop.Ucx.TestPeer;

/// <summary>
/// Starts this program as a served peer in a child process and reads its worker address from its first stdout line.
/// The owner kills it (its own PID) when done.
/// </summary>
public sealed class ChildPeer : IDisposable
{
    private ChildPeer(Process process, byte[] address)
    {
        Process = process;
        Address = address;
    }

    /// <summary>The child process.</summary>
    public Process Process { get; }

    /// <summary>The child's UCX worker address.</summary>
    public byte[] Address { get; }

    /// <summary>Starts <c>serve</c> with the given extra arguments, in the given environment additions.</summary>
    public static ChildPeer Start(string peerDll, IEnumerable<string> serveArgs,
        IReadOnlyDictionary<string, string>? environment = null, TimeSpan? startTimeout = null)
    {
        // Through the dotnet host, unless this program runs as a self-contained app (the benchmark on a machine
        // without the SDK): then its own executable.
        var host = Environment.ProcessPath is { } self && Path.GetFileNameWithoutExtension(self) != "dotnet"
            && Path.GetFileName(self) == Path.GetFileNameWithoutExtension(peerDll)
            ? self : "dotnet";
        var info = new ProcessStartInfo(host)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        if (host == "dotnet")
            info.ArgumentList.Add(peerDll);
        info.ArgumentList.Add("serve");
        foreach (var arg in serveArgs)
            info.ArgumentList.Add(arg);
        foreach (var (name, value) in environment ?? new Dictionary<string, string>())
            info.Environment[name] = value;
        var process = Process.Start(info) ?? throw new InvalidOperationException("could not start the test peer");
        try
        {
            var stderr = new System.Text.StringBuilder();
            process.ErrorDataReceived += (_, e) =>
            {
                lock (stderr)
                    stderr.AppendLine(e.Data);
            };
            process.BeginErrorReadLine();
            var line = process.StandardOutput.ReadLineAsync();
            if (!line.Wait(startTimeout ?? TimeSpan.FromSeconds(30)) || line.Result is not { } text
                || !text.StartsWith("ADDRESS ", StringComparison.Ordinal))
            {
                string errors;
                lock (stderr)
                    errors = stderr.ToString();
                throw new InvalidOperationException($"the test peer did not print its address; stderr: {errors}");
            }
            return new ChildPeer(process, Convert.FromBase64String(text["ADDRESS ".Length..]));
        }
        catch
        {
            Kill(process);
            throw;
        }
    }

    /// <summary>Kills the child (if still running) and waits for it, bounded.</summary>
    public void Dispose()
    {
        Kill(Process);
        Process.Dispose();
    }

    private static void Kill(Process process)
    {
        try
        {
            if (!process.HasExited)
            {
                process.Kill();
                process.WaitForExit(10_000);
            }
        }
        catch (InvalidOperationException)
        {
            // already gone
        }
    }
}
