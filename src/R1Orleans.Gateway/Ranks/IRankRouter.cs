namespace R1Orleans.Gateway.Ranks;

/// <summary>
/// Picks the rank a new request runs on: the least-loaded rank with room for it. One silo alone has one rank, its own
/// engine (<see cref="LocalRankRouter"/>); a cluster silo chooses among every silo of the committed placement.
/// </summary>
public interface IRankRouter
{
    /// <summary>
    /// A rank with room for <paramref name="count"/> more requests (waiting places plus free running slots), or null when
    /// none has; never one of <paramref name="exclude"/> (ranks a request was lost on).
    /// </summary>
    IRank? Pick(int count, int maxWaiting, IReadOnlyCollection<string>? exclude = null);

    /// <summary>Why nothing was picked, for the 429's message ("3 requests are waiting and 64 running ...").</summary>
    string BusySummary(int maxWaiting);

    /// <summary>Null when the whole model can be served; otherwise what is missing (/health is 503 with it as the detail).</summary>
    string? Unready { get; }
}
