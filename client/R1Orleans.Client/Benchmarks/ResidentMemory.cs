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
                return StatusKilobytes(line) * 1024;
            }
        }

        return null;
    }

    /// <summary>
    /// The value of a /proc/self/status line in kB ("RssAnon:\t     152 kB"; from eight digits on the tab is
    /// followed by the number itself, "RssAnon:\t40123456 kB").
    /// </summary>
    public static long StatusKilobytes(string line)
    {
        string[] parts = line.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries);
        return parts.Length == 3 && parts[2] == "kB" && long.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out long kb)
            ? kb
            : throw new FormatException($"not a /proc/self/status line in kB: '{line}'");
    }
}
