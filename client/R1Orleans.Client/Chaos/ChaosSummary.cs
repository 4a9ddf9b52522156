using System.Globalization;
using R1Orleans.Client.Http;

namespace R1Orleans.Client.Chaos;

/// <summary>Prints what a chaos run found: the counts, the token gaps overall and around each fault, detection and recovery, the violations.</summary>
public static class ChaosSummary
{
    /// <summary>At most this many violations are printed (all are in the history and the count).</summary>
    public const int MaxViolationsShown = 30;

    public static void Write(TextWriter output, string schedule, CheckResult check, IReadOnlyList<HistoryRecord> history, TimeSpan window)
    {
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(check);
        output.WriteLine(Invariant($"schedule {schedule}: {check.Requests} requests, {check.Completed} completed, {check.Identical} identical to a single silo, {check.Failed} failed ({check.LostWithGateway} lost with their killed gateway)"));
        if (check.GreedyWithAnswer > 0)
        {
            output.WriteLine(Invariant($"greedy answers equal to the known answer: {check.GreedyCorrect}/{check.GreedyWithAnswer} (the model's accuracy; not checked)"));
        }

        Distribution? all = Distribution.From(FaultImpact.TokenGaps(history).Select(g => g.To - g.From));
        output.WriteLine(all is null ? "token gaps: no streamed tokens" : Invariant($"token gaps over the run: p50 {Ms(all.P50)}, p99 {Ms(all.P99)}, max {Ms(all.Max)} ({all.Count} gaps)"));
        IReadOnlyList<FaultImpact> impacts = FaultImpact.Of(history, window);
        if (impacts.Count > 0)
        {
            output.WriteLine(Invariant($"faults (gaps of streams within {window.TotalSeconds:0.#} s after each; detected/recovered as the gateway's /cluster/status showed it, polled):"));
            TextTable.Write(output, ["at", "fault", "target", "gaps", "gap p99", "gap max", "detected", "recovered"], [.. impacts.Select(i => new[]
            {
                Invariant($"{i.Fault.Time:0.00} s"),
                i.Fault.Kind,
                i.Fault.Target,
                i.Gaps.ToString(CultureInfo.InvariantCulture),
                Ms(i.GapP99),
                Ms(i.GapMax),
                Ms(i.Detected),
                Ms(i.Recovered),
            })]);
        }

        if (check.Violations.Count > 0)
        {
            output.WriteLine("violations by kind: " + string.Join(", ", check.Violations.GroupBy(v => v.Kind).OrderByDescending(g => g.Count()).Select(g => $"{g.Key} {g.Count()}")));
        }

        foreach (Violation v in check.Violations.Take(MaxViolationsShown))
        {
            output.WriteLine("VIOLATION " + v);
        }

        if (check.Violations.Count > MaxViolationsShown)
        {
            output.WriteLine(Invariant($"... and {check.Violations.Count - MaxViolationsShown} more (see the history)"));
        }

        output.WriteLine(check.Passed ? "PASS: no violations" : Invariant($"FAIL: {check.Violations.Count} violations"));
    }

    private static string Ms(double? seconds) => seconds is double s ? Invariant($"{s * 1000:0} ms") : "-";

    private static string Invariant(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
