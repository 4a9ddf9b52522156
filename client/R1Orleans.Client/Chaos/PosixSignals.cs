using System.Runtime.InteropServices;

namespace R1Orleans.Client.Chaos;

/// <summary>Sends POSIX signals to a process (libc <c>kill(2)</c>); the harness only ever signals PIDs it started.</summary>
public static partial class PosixSignals
{
    public const int SigKill = 9;
    public const int SigTerm = 15;
    public const int SigCont = 18;
    public const int SigStop = 19;

    /// <summary>Sends <paramref name="signal"/> to <paramref name="pid"/>; throws naming the call when the kernel refuses.</summary>
    public static void Send(int pid, int signal)
    {
        if (!OperatingSystem.IsLinux())
        {
            throw new PlatformNotSupportedException("r1 chaos sends POSIX signals with Linux's numbers; it runs on Linux");
        }

        if (Kill(pid, signal) != 0)
        {
            throw new InvalidOperationException($"kill({pid}, {signal}) failed: errno {Marshal.GetLastPInvokeError()}");
        }
    }

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);
}
