using System.Globalization;

namespace R1Orleans.Client.Chaos;

/// <summary>What the checker found in a history: the counts of the summary and every violation.</summary>
public sealed record CheckResult(
    int Requests,
    int Completed,
    int Identical,
    int Failed,
    int LostWithGateway,
    int GreedyWithAnswer,
    int GreedyCorrect,
    IReadOnlyList<Violation> Violations)
{
    public bool Passed => Violations.Count == 0;
}

/// <summary>
/// Checks a chaos history against the references: every request ended within the bound; every completed answer is the
/// fault-free single silo's (tokens, text, finish reason), with no token repeated or missing and the server's token count
/// equal to the tokens it sent; every failure is an explicit error, and there is none where a survivor could serve (the
/// one excuse: the request's own gateway silo was killed, which the client sees as every server's death); every silo that
/// joined shows in the gateway's cluster status (when the run watched long enough).
/// </summary>
public static class HistoryChecker
{
    /// <summary>How long after its start a joined silo has to show in the gateway's cluster status, when the run watched that long.</summary>
    public static readonly TimeSpan DefaultJoinGrace = TimeSpan.FromSeconds(8);

    public static CheckResult Check(IReadOnlyList<HistoryRecord> history, ReferenceSet references, TimeSpan bound, TimeSpan? joinGrace = null)
    {
        ArgumentNullException.ThrowIfNull(history);
        ArgumentNullException.ThrowIfNull(references);
        var violations = new List<Violation>(JoinsNotSeen(history, joinGrace ?? DefaultJoinGrace));
        FaultRecord[] kills = [.. history.OfType<FaultRecord>().Where(f => f.Kind == Fault.Name(FaultKind.Kill))];
        int requests = 0, completed = 0, identical = 0, failed = 0, lost = 0, greedyWithAnswer = 0, greedyCorrect = 0;
        foreach (RequestRecord r in history.OfType<RequestRecord>())
        {
            requests++;
            double ran = r.End - r.Start;
            if (r.Status == RequestStatus.Timeout || ran > bound.TotalSeconds)
            {
                violations.Add(new Violation(r.Id, ViolationKind.PastBound, string.Create(CultureInfo.InvariantCulture,
                    $"ran {ran:0.###} s against a bound of {bound.TotalSeconds:0.###} s (status {r.Status.ToString().ToLowerInvariant()})")));
            }

            if (r.Status != RequestStatus.Completed)
            {
                failed++;
                FaultRecord? kill = kills.FirstOrDefault(k => k.Target == r.Gateway && k.Time <= r.End);
                if (kill is not null && r.Status != RequestStatus.Timeout)
                {
                    lost++;
                }
                else if (r.Status == RequestStatus.Error)
                {
                    violations.Add(new Violation(r.Id, ViolationKind.ErrorWhereSurvivorCouldServe, $"failed on {r.Gateway}, which was not killed: {r.Error}"));
                }
                else if (r.Status == RequestStatus.Broken)
                {
                    violations.Add(new Violation(r.Id, ViolationKind.SilentFailure, $"no answer and no error from {r.Gateway}, which was not killed: {r.Error}"));
                }

                continue;
            }

            completed++;
            if (r.Spec.Greedy && r.Spec.Answer is { } answer)
            {
                greedyWithAnswer++;
                greedyCorrect += r.Content.Trim() == answer ? 1 : 0;
            }

            int before = violations.Count;
            Compare(r, references.Find(r.Spec.Key), violations);
            identical += violations.Count == before ? 1 : 0;
        }

        return new CheckResult(requests, completed, identical, failed, lost, greedyWithAnswer, greedyCorrect, violations);
    }

    /// <summary>
    /// A silo that joined and that the gateway's <c>/cluster/status</c> never listed, though it was watched for
    /// <paramref name="grace"/> after the join: it did not join this cluster (after Redis lost its data, it may have formed a second one).
    /// </summary>
    private static IEnumerable<Violation> JoinsNotSeen(IReadOnlyList<HistoryRecord> history, TimeSpan grace)
    {
        StatusRecord[] statuses = [.. history.OfType<StatusRecord>()];
        double watched = statuses.Length == 0 ? double.NegativeInfinity : statuses.Max(s => s.Time);
        foreach (FaultRecord join in history.OfType<FaultRecord>().Where(f => f.Kind == Fault.Name(FaultKind.Join) && f.Note?.StartsWith("not injected", StringComparison.Ordinal) != true))
        {
            if (watched >= join.Time + grace.TotalSeconds && !statuses.Any(s => s.Time >= join.Time && s.Silos.Any(o => o.Node == join.Target)))
            {
                yield return new Violation(null, ViolationKind.JoinNotSeen, string.Create(CultureInfo.InvariantCulture,
                    $"{join.Target} started at {join.Time:0.0} s and the gateway's cluster status never listed it (watched to {watched:0.0} s): it joined no cluster, or a second one"));
            }
        }
    }

    private static void Compare(RequestRecord r, ReferenceAnswer? reference, List<Violation> violations)
    {
        if (r.CompletionTokens is int usage && usage != r.Tokens.Count)
        {
            violations.Add(new Violation(r.Id, ViolationKind.UsageMismatch, $"usage says {usage} completion tokens; the {(r.Spec.Stream ? "stream" : "answer")} carried {r.Tokens.Count}"));
        }

        if (reference is null)
        {
            violations.Add(new Violation(r.Id, ViolationKind.NoReference, "no reference answer for its prompt, temperature, seed and max_tokens"));
            return;
        }

        if (TokenDiff.Diagnose(r.Tokens, reference.Tokens) is (string kind, string message))
        {
            violations.Add(new Violation(r.Id, kind, message));
            return;
        }

        if (r.Reasoning != reference.Reasoning || r.Content != reference.Content)
        {
            string which = r.Reasoning != reference.Reasoning ? "reasoning" : "content";
            violations.Add(new Violation(r.Id, ViolationKind.Differs, $"the {(r.Spec.Stream ? "streamed " : "")}{which} is not the reference's though its tokens are"));
        }
        else if (r.FinishReason != reference.FinishReason)
        {
            violations.Add(new Violation(r.Id, ViolationKind.Differs, $"finish reason {r.FinishReason ?? "none"}, the reference's {reference.FinishReason ?? "none"}"));
        }
    }
}
