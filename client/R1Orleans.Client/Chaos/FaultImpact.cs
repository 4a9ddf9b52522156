using R1Orleans.Client.Http;

namespace R1Orleans.Client.Chaos;

/// <summary>
/// What one fault did as the client saw it: the inter-token gaps of streams that overlap the window after it (max, p99),
/// and, from the gateway's <c>/cluster/status</c> observations, when the change showed (detected: the silo gone, or the
/// new one listed) and when the cluster settled (recovered: a committed placement covering every expert with nothing
/// pending, and for a join the new silo holding experts). Times in seconds after the fault; null where not measurable.
/// </summary>
public sealed record FaultImpact(FaultRecord Fault, int Gaps, double? GapP99, double? GapMax, double? Detected, double? Recovered)
{
    /// <summary>The impact of every fault in <paramref name="history"/>, gaps taken over [fault, fault + <paramref name="window"/>].</summary>
    public static IReadOnlyList<FaultImpact> Of(IReadOnlyList<HistoryRecord> history, TimeSpan window)
    {
        ArgumentNullException.ThrowIfNull(history);
        (double From, double To)[] gaps = [.. TokenGaps(history)];
        StatusRecord[] statuses = [.. history.OfType<StatusRecord>().OrderBy(s => s.Time)];
        var impacts = new List<FaultImpact>();
        foreach (FaultRecord f in history.OfType<FaultRecord>())
        {
            double end = f.Time + window.TotalSeconds;
            double[] around = [.. gaps.Where(g => g.From < end && g.To > f.Time).Select(g => g.To - g.From)];
            Distribution? d = Distribution.From(around);
            (double? detected, double? recovered) = Settling(f, statuses);
            impacts.Add(new FaultImpact(f, around.Length, d?.P99, d?.Max, detected, recovered));
        }

        return impacts;
    }

    /// <summary>Every gap between consecutive tokens of every streamed request (start and end times).</summary>
    public static IEnumerable<(double From, double To)> TokenGaps(IReadOnlyList<HistoryRecord> history)
    {
        ArgumentNullException.ThrowIfNull(history);
        foreach (RequestRecord r in history.OfType<RequestRecord>().Where(r => r.Spec.Stream))
        {
            for (int i = 1; i < r.TokenTimes.Count; i++)
            {
                yield return (r.TokenTimes[i - 1], r.TokenTimes[i]);
            }
        }
    }

    private static (double? Detected, double? Recovered) Settling(FaultRecord f, StatusRecord[] statuses)
    {
        bool join = f.Kind == Chaos.Fault.Name(FaultKind.Join);
        bool silo = join || f.Kind == ExitWatcher.Kind || f.Kind == Chaos.Fault.Name(FaultKind.Kill) || f.Kind == Chaos.Fault.Name(FaultKind.Term) || f.Kind == Chaos.Fault.Name(FaultKind.Stop);
        if (!silo)
        {
            return (null, null);
        }

        StatusRecord? seen = statuses.FirstOrDefault(s => s.Time >= f.Time && s.Silos.Any(x => x.Node == f.Target) == join);
        if (seen is null)
        {
            return (null, null);
        }

        StatusRecord? settled = statuses.FirstOrDefault(s => s.Time >= seen.Time && s.PendingVersion is null && s.ExpertsCovered && s.Version is not null
            && (!join || s.Silos.Any(x => x.Node == f.Target && x.ExpertsPlaced > 0)));
        return (seen.Time - f.Time, settled is null ? null : settled.Time - f.Time);
    }
}
