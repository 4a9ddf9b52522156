using System.Runtime.InteropServices;

namespace R1Orleans.Interop.Ucx.Tests;

/// <summary>kill(2) for the tests' own child processes (SIGSTOP / SIGCONT by PID).</summary>
internal static partial class ChildSignals
{
    public const int SigCont = 18;
    public const int SigStop = 19;

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);

    public static void Send(int pid, int signal)
    {
        if (Kill(pid, signal) != 0)
            throw new InvalidOperationException($"kill({pid}, {signal}) failed: errno {Marshal.GetLastPInvokeError()}");
    }
}
