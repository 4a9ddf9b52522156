namespace R1Orleans.Transport.AllToAll;

/// <summary>One peer's part of an all-to-all buffer: rows [FirstRow, FirstRow + Rows) go to or come from rank <see cref="Peer"/> (one ncclSend or ncclRecv each).</summary>
public readonly record struct AllToAllSegment(int Peer, int FirstRow, int Rows)
{
    /// <summary>The non-empty segments of per-rank offsets (ranks + 1 entries: rank r's rows are [offsets[r], offsets[r + 1])).</summary>
    public static IReadOnlyList<AllToAllSegment> Of(int[] offsets)
    {
        ArgumentNullException.ThrowIfNull(offsets);
        var segments = new List<AllToAllSegment>(Math.Max(0, offsets.Length - 1));
        for (int r = 0; r + 1 < offsets.Length; r++)
        {
            if (offsets[r + 1] > offsets[r])
            {
                segments.Add(new AllToAllSegment(r, offsets[r], offsets[r + 1] - offsets[r]));
            }
        }

        return segments;
    }
}
