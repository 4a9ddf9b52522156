using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;

namespace R1Orleans.Client.Chaos;

/// <summary>
/// A process the harness started (a silo or redis-server), its output written to a log file. Signals go to its own PID
/// only; disposing it kills it (a stopped one too) and waits for it. Should the harness itself be ended, every child
/// still running is killed on the way out (<see cref="AppDomain.ProcessExit"/>).
/// </summary>
public sealed class ChildProcess : IAsyncDisposable
{
    private static readonly ConcurrentDictionary<int, Process> s_running = new();

    static ChildProcess() => AppDomain.CurrentDomain.ProcessExit += (_, _) => KillAll();

    private readonly Process _process;
    private readonly StreamWriter _log;
    private readonly Lock _lock = new();

    private readonly Action<string>? _onLine;

    /// <summary>Where this process's part of its log begins: a log is appended to by every start of the same silo or server.</summary>
    private readonly long _logStart;

    private ChildProcess(string name, Process process, StreamWriter log, string logPath, long logStart, Action<string>? onLine)
    {
        _logStart = logStart;
        _onLine = onLine;
        Name = name;
        _process = process;
        _log = log;
        LogPath = logPath;
        Pid = process.Id;
        _process.OutputDataReceived += (_, e) => Append(e.Data);
        _process.ErrorDataReceived += (_, e) => Append(e.Data);
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    public string Name { get; }

    public int Pid { get; }

    public string LogPath { get; }

    public bool HasExited => _process.HasExited;

    /// <summary>The exit code once it has exited (a signal shows as 128 + its number).</summary>
    public int? ExitCode => _process.HasExited ? _process.ExitCode : null;

    /// <summary>Whether the harness stopped it (SIGSTOP) and has not resumed it.</summary>
    public bool Stopped { get; private set; }

    /// <summary>Starts it; <paramref name="onLine"/>, when given, sees every line of its output (after the log has it).</summary>
    public static ChildProcess Start(string name, string fileName, IEnumerable<string> arguments, string logPath, string? workingDirectory = null, Action<string>? onLine = null)
    {
        var start = new ProcessStartInfo(fileName)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = false,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? "",
        };
        foreach (string a in arguments)
        {
            start.ArgumentList.Add(a);
        }

        long logStart = File.Exists(logPath) ? new FileInfo(logPath).Length : 0;
        var log = new StreamWriter(logPath, append: true) { AutoFlush = true };
        log.WriteLine($"# {fileName} {string.Join(' ', start.ArgumentList)}");
        Process process;
        try
        {
            process = Process.Start(start) ?? throw new InvalidOperationException($"{fileName} did not start");
        }
        catch
        {
            log.Dispose();
            throw;
        }

        s_running[process.Id] = process;
        return new ChildProcess(name, process, log, logPath, logStart, onLine);
    }

    /// <summary>Kills every child still running (each by its own PID).</summary>
    public static void KillAll()
    {
        foreach ((int pid, Process p) in s_running)
        {
            try
            {
                if (!p.HasExited)
                {
                    p.Kill(entireProcessTree: true);
                }
            }
            catch (InvalidOperationException)
            {
            }

            s_running.TryRemove(pid, out _);
        }
    }

    /// <summary>Sends a signal (<see cref="PosixSignals"/>) unless the process has exited; remembers stop and continue.</summary>
    public bool Signal(int signal)
    {
        if (_process.HasExited)
        {
            return false;
        }

        PosixSignals.Send(Pid, signal);
        Stopped = signal == PosixSignals.SigStop || (Stopped && signal != PosixSignals.SigCont);
        return true;
    }

    /// <summary>Waits up to <paramref name="timeout"/> for the process to exit; true when it did.</summary>
    public async Task<bool> WaitForExitAsync(TimeSpan timeout)
    {
        try
        {
            await _process.WaitForExitAsync().WaitAsync(timeout).ConfigureAwait(false);
            return true;
        }
        catch (TimeoutException)
        {
            return false;
        }
    }

    /// <summary>
    /// Once it has exited: how it ended and the last lines of its log, after waiting (up to 5 s) for the rest of its output
    /// to reach the log. <see cref="HasExited"/> turns true before the output it wrote last has been read, so a tail read at
    /// once can miss the very line that says why it stopped.
    /// </summary>
    public async Task<string> DescribeExitAsync(int lines = 20)
    {
        await WaitForExitAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false);
        int code = _process.ExitCode;
        string how = code > 128
            ? string.Create(CultureInfo.InvariantCulture, $"exit code {code}: killed by signal {code - 128}")
            : string.Create(CultureInfo.InvariantCulture, $"exit code {code}");
        return $"{how}; its log ({LogPath}) ends:\n{Tail(lines)}";
    }

    /// <summary>Whether its part of the log contains <paramref name="text"/> (in any case).</summary>
    public bool Logged(string text) => ReadLog().Contains(text, StringComparison.OrdinalIgnoreCase);

    /// <summary>The last lines of its part of the log (for error messages).</summary>
    public string Tail(int lines = 20) => string.Join('\n', ReadLog().Split('\n').TakeLast(lines));

    /// <summary>Its part of the log as written so far, from its command line on ("" when it cannot be read).</summary>
    private string ReadLog()
    {
        lock (_lock)
        {
            _log.Flush();
        }

        try
        {
            using var file = new FileStream(LogPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            file.Position = Math.Min(_logStart, file.Length);
            using var reader = new StreamReader(file);
            return reader.ReadToEnd();
        }
        catch (IOException)
        {
            return "";
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
        }

        await WaitForExitAsync(TimeSpan.FromSeconds(20)).ConfigureAwait(false);
        s_running.TryRemove(Pid, out _);
        _process.Dispose();
        lock (_lock)
        {
            _log.Dispose();
        }
    }

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_lock)
        {
            try
            {
                _log.WriteLine(line);
            }
            catch (ObjectDisposedException)
            {
            }
        }

        _onLine?.Invoke(line);
    }
}
