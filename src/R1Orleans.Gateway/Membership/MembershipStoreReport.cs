namespace R1Orleans.Gateway.Membership;

/// <summary>
/// What a silo knows of the store that holds its cluster's membership table (Redis): whether it answers, since when it
/// does not, whether it keeps its data across a restart, and how often this silo put the table back after finding it
/// gone. /health and /cluster/status show it; a silo alone (localhost clustering) has none.
/// </summary>
/// <param name="Store">The store and its address, e.g. <c>redis 127.0.0.1:6379</c>.</param>
/// <param name="Reachable">Whether the last read of the table (every second) was answered.</param>
/// <param name="UnreachableSince">When reads started failing; null while reachable.</param>
/// <param name="Error">The last read's error, in one line; null while reachable.</param>
/// <param name="Persistence"><c>appendonly</c>, <c>none</c> (a restart loses the table), or <c>unknown</c> (CONFIG refused).</param>
/// <param name="TableRestores">Times this silo found the table or a live member's row gone and wrote them back.</param>
/// <param name="LastRestore">When it last did; null if never.</param>
public sealed record MembershipStoreReport(
    string Store,
    bool Reachable,
    DateTimeOffset? UnreachableSince,
    string? Error,
    string Persistence,
    long TableRestores,
    DateTimeOffset? LastRestore)
{
    /// <summary>The state in one word: <c>reachable</c> or <c>unreachable</c>.</summary>
    public string State => Reachable ? "reachable" : "unreachable";
}

/// <summary>
/// The silo's latest <see cref="MembershipStoreReport"/> (a singleton): written by the service that watches the table,
/// read by /health and /cluster/status without touching the store, so a store that hangs never makes them hang.
/// </summary>
public sealed class MembershipStoreStatus
{
    private volatile MembershipStoreReport? _report;

    /// <summary>The latest report; null on a silo without a membership store (localhost clustering) or before the first read.</summary>
    public MembershipStoreReport? Report => _report;

    public void Publish(MembershipStoreReport report) => _report = report ?? throw new ArgumentNullException(nameof(report));
}
