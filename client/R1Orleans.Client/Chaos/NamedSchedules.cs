using System.Diagnostics.CodeAnalysis;

namespace R1Orleans.Client.Chaos;

/// <summary>
/// The built-in chaos schedules, in the text format of <see cref="FaultSchedule"/>. <c>ci</c> is the short CI
/// schedule (kill -9 of a worker, SIGSTOP, join, SIGTERM; 3 silos); it needs failover, so CI does not run it yet.
/// </summary>
public static class NamedSchedules
{
    private static readonly Dictionary<string, string> s_schedules = new(StringComparer.Ordinal)
    {
        ["none"] = "# no faults: the cluster against a single silo\n",
        ["join"] = """
            # a 4th silo joins under load (no kill: needs no failover)
            3s join
            """,
        ["ci"] = """
            # the CI schedule of issue 17, for 3 silos (s0 serves HTTP, s1 and s2 are workers); needs failover
            4s  kill worker          # kill -9 of s1
            9s  stop worker for 4s   # SIGSTOP of s2, SIGCONT 4 s later
            16s join                 # s3 starts and joins
            24s term worker          # SIGTERM of the lowest running worker: a drain
            """,
        ["gray"] = """
            # gray failures and a drain through the control plane, for 3 silos with --expert-replicas 2
            4s  delay worker 2s for 4s   # s1 answers every expert step 2 s late for 4 s: the step deadline passes it over
            12s join                     # s3 starts and joins
            20s drain worker             # POST /cluster/drain for the lowest running worker, as `r1 cluster drain` does
            """,
        ["redis"] = """
            # Redis restarts under load: with its data (AOF), after a 3 s outage, then wiped (as without persistence)
            4s  redis-restart for 3s
            10s redis-restart wipe
            14s join                 # a silo that starts after the wipe must join the old cluster, not form a second
            """,
    };

    /// <summary>The names, in a stable order.</summary>
    public static IEnumerable<string> Names => s_schedules.Keys.Order(StringComparer.Ordinal);

    public static bool TryGet(string name, [NotNullWhen(true)] out string? text) => s_schedules.TryGetValue(name, out text);
}
