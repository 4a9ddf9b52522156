using System.Diagnostics;
using System.Globalization;

namespace R1Orleans.Client.Benchmarks;

/// <summary>
/// The process's resident memory after a full garbage collection: RSS, and on Linux RssAnon from /proc/self/status
/// (anonymous pages only: the loaded weights, without the checkpoint's memory-mapped file pages that RSS also counts).
/// </summary>
public sealed record ResidentMemory(long RssBytes, long? RssAnonBytes)
{
    public static ResidentMemory Measure()
    {
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);
        GC.WaitForPendingFinalizers();
        using var self = Process.GetCurrentProcess();
        return new ResidentMemory(self.WorkingSet64, RssAnon());
    }

    public override string ToString() =>
        $"RSS {RssBytes / 1e6:0} MB" + (RssAnonBytes is long anon ? $", RssAnon {anon / 1e6:0} MB" : "");

    private static long? RssAnon()
    {
        const string status = "/proc/self/status";
        if (!File.Exists(status))
        {
            return null;
        }

        foreach (string line in File.ReadLines(status))
        {
            if (line.StartsWith("RssAnon:", StringComparison.Ordinal))
            {
                string[] parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                return long.Parse(parts[1], CultureInfo.InvariantCulture) * 1024; // kB
            }
        }

        return null;
    }
}
