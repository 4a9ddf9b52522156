namespace R1Orleans.Placement;

/// <summary>A rank as the gateway sees it when it picks one for a new request: its load and whether it is this silo's.</summary>
/// <param name="Name">The rank's silo.</param>
/// <param name="Running">Requests in its running batch.</param>
/// <param name="Waiting">Requests queued on it (including those sent since its last report).</param>
/// <param name="MaxNumSeqs">Its running limit.</param>
/// <param name="IsLocal">True for the gateway's own silo (its tokens need no hop).</param>
public readonly record struct RankCandidate(string Name, int Running, int Waiting, int MaxNumSeqs, bool IsLocal)
{
    public int Load => Running + Waiting;
}

/// <summary>
/// The gateway's side of data parallelism: each new request goes to the least-loaded rank (running plus waiting) among
/// those with room for it (running + waiting + the request's choices within <c>maxWaiting + MaxNumSeqs</c>, the rule a
/// single engine admits by); ties go to the local rank, then to the rank listed first.
/// </summary>
public static class RankPicker
{
    /// <summary>The index of the rank to use, or -1 when none has room.</summary>
    public static int Pick(ReadOnlySpan<RankCandidate> ranks, int count, int maxWaiting)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(count);
        ArgumentOutOfRangeException.ThrowIfNegative(maxWaiting);
        int best = -1;
        for (int i = 0; i < ranks.Length; i++)
        {
            RankCandidate r = ranks[i];
            if ((long)r.Load + count > (long)maxWaiting + r.MaxNumSeqs)
            {
                continue;
            }

            if (best < 0 || r.Load < ranks[best].Load || (r.Load == ranks[best].Load && r.IsLocal && !ranks[best].IsLocal))
            {
                best = i;
            }
        }

        return best;
    }
}
