using System.Runtime.InteropServices;

namespace R1Orleans.Interop.Ucx.Tests;

/// <summary>kill(2) for the tests' own child processes (SIGSTOP / SIGCONT by PID).</summary>
internal static partial class ChildSignals
{
    public const int SigCont = 18;
    public const int SigStop = 19;

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);

    /// <summary>
    /// Waits (bounded) until every thread of <paramref name="pid"/> is stopped: kill() returns before a running
    /// thread has taken the SIGSTOP, so a request sent at once could still be answered.
    /// </summary>
    public static void WaitUntilStopped(int pid, TimeSpan timeout)
    {
        var until = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < until)
        {
            if (Directory.GetDirectories($"/proc/{pid}/task").All(IsStopped))
                return;
            Thread.Sleep(1);
        }
        throw new TimeoutException($"process {pid} did not stop within {timeout}");
    }

    private static bool IsStopped(string taskDirectory)
    {
        try
        {
            var stat = File.ReadAllText(Path.Combine(taskDirectory, "stat"));
            var state = stat[(stat.LastIndexOf(')') + 2)..][0];
            return state is 'T' or 't';
        }
        catch (IOException)
        {
            return true; // the thread exited
        }
    }

    public static void Send(int pid, int signal)
    {
        if (Kill(pid, signal) != 0)
            throw new InvalidOperationException($"kill({pid}, {signal}) failed: errno {Marshal.GetLastPInvokeError()}");
    }
}
