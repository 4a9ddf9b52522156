using R1Orleans.Transport.Experts;

namespace R1Orleans.Transport.AllToAll;

/// <summary>
/// A rank's receiving side of the all-to-all dispatch for one MoE layer step: from the token counts every rank sent it
/// (<see cref="DispatchSendLayout.SendTokenCounts"/>, exchanged first) the place of each source's rows (grouped by
/// source rank in rank order), and from the slot experts that came with them the rows this rank runs, grouped by expert
/// over all sources (each expert runs once per step on every row any rank sent it; an output row depends only on its
/// input row, so the bits are those of any other grouping). After the experts ran, <see cref="PackCombine"/> lays their
/// outputs out for the reverse all-to-all: per source rank, its tokens in the order they came, each token's slots
/// ascending, which is the order <see cref="DispatchSendLayout.UnpackCombine"/> reads them in.
/// </summary>
public sealed class DispatchReceiveLayout
{
    private readonly int[] _rowOfSlot;

    private DispatchReceiveLayout(int k, int[] tokenOffsets, int[] slotOffsets, int[] rowReceived, int[] rowSlot, int[] rowExpert, int[] rowOfSlot, ExpertGroup[] groups)
    {
        K = k;
        TokenOffsets = tokenOffsets;
        SlotOffsets = slotOffsets;
        RowReceived = rowReceived;
        RowSlot = rowSlot;
        RowExpert = rowExpert;
        _rowOfSlot = rowOfSlot;
        Groups = groups;
    }

    public int Ranks => TokenOffsets.Length - 1;

    public int K { get; }

    /// <summary>Received rows from rank r: [TokenOffsets[r], TokenOffsets[r + 1]) of the receive buffer (Ranks + 1 entries).</summary>
    public int[] TokenOffsets { get; }

    /// <summary>Combine rows back to rank r: [SlotOffsets[r], SlotOffsets[r + 1]) of the combine send buffer.</summary>
    public int[] SlotOffsets { get; }

    public int ReceivedRows => TokenOffsets[^1];

    /// <summary>Expert rows: one per (received row, slot) this rank runs, grouped by expert ascending.</summary>
    public int ExpertRows => RowReceived.Length;

    /// <summary>The received row of each expert row.</summary>
    public int[] RowReceived { get; }

    /// <summary>The slot (0..K-1) of each expert row.</summary>
    public int[] RowSlot { get; }

    /// <summary>The expert of each expert row, ascending.</summary>
    public int[] RowExpert { get; }

    /// <summary>The expert rows of each expert, for <see cref="GroupedExperts.Run"/>.</summary>
    public ExpertGroup[] Groups { get; }

    /// <summary>
    /// The layout of what this rank receives: <paramref name="receivedTokenCounts"/>[r] rows from rank r, and their slot
    /// experts (<paramref name="receivedSlotExperts"/>, ReceivedRows × K, grouped by source rank like the rows; -1 where
    /// another rank runs the slot).
    /// </summary>
    public static DispatchReceiveLayout Build(ReadOnlySpan<int> receivedTokenCounts, int k, ReadOnlySpan<int> receivedSlotExperts)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(k, 1);
        int ranks = receivedTokenCounts.Length;
        int[] tokenOffsets = new int[ranks + 1];
        for (int r = 0; r < ranks; r++)
        {
            ArgumentOutOfRangeException.ThrowIfNegative(receivedTokenCounts[r]);
            tokenOffsets[r + 1] = tokenOffsets[r] + receivedTokenCounts[r];
        }

        int received = tokenOffsets[ranks];
        if (receivedSlotExperts.Length != received * k)
        {
            throw new ArgumentException($"{received} rows × {k} slots received, {receivedSlotExperts.Length} slot experts given", nameof(receivedSlotExperts));
        }

        // Combine rows per source and the expert histogram.
        int[] slotOffsets = new int[ranks + 1];
        int maxExpert = -1;
        for (int r = 0; r < ranks; r++)
        {
            int slots = 0;
            for (int j = tokenOffsets[r]; j < tokenOffsets[r + 1]; j++)
            {
                int mine = 0;
                for (int s = 0; s < k; s++)
                {
                    int e = receivedSlotExperts[(j * k) + s];
                    if (e >= 0)
                    {
                        mine++;
                        maxExpert = Math.Max(maxExpert, e);
                    }
                    else if (e != -1)
                    {
                        throw new ArgumentOutOfRangeException(nameof(receivedSlotExperts), $"received row {j} slot {s} names expert {e}");
                    }
                }

                if (mine == 0)
                {
                    throw new ArgumentException($"received row {j} (from rank {r}) has no slot for this rank", nameof(receivedSlotExperts));
                }

                slots += mine;
            }

            slotOffsets[r + 1] = slotOffsets[r] + slots;
        }

        // Expert rows, stable by expert: (expert, received row, slot) order.
        int rows = slotOffsets[ranks];
        int[] expertStart = new int[maxExpert + 2];
        foreach (int e in receivedSlotExperts)
        {
            if (e >= 0)
            {
                expertStart[e + 1]++;
            }
        }

        var groups = new List<ExpertGroup>();
        for (int e = 0; e <= maxExpert; e++)
        {
            if (expertStart[e + 1] > 0)
            {
                groups.Add(new ExpertGroup(e, expertStart[e], expertStart[e + 1]));
            }

            expertStart[e + 1] += expertStart[e];
        }

        int[] rowReceived = new int[rows], rowSlot = new int[rows], rowExpert = new int[rows], rowOfSlot = new int[received * k];
        Array.Fill(rowOfSlot, -1);
        for (int j = 0; j < received; j++)
        {
            for (int s = 0; s < k; s++)
            {
                int e = receivedSlotExperts[(j * k) + s];
                if (e >= 0)
                {
                    int i = expertStart[e]++;
                    rowReceived[i] = j;
                    rowSlot[i] = s;
                    rowExpert[i] = e;
                    rowOfSlot[(j * k) + s] = i;
                }
            }
        }

        return new DispatchReceiveLayout(k, tokenOffsets, slotOffsets, rowReceived, rowSlot, rowExpert, rowOfSlot, [.. groups]);
    }

    /// <summary>
    /// Where each rank's rows land, from the exchanged counts alone: what a rank posts its receives with before the rows
    /// and their slot experts arrive (the same as <see cref="DispatchReceives"/> of the layout built from them).
    /// </summary>
    public static IReadOnlyList<AllToAllSegment> ReceiveSegments(ReadOnlySpan<int> receivedTokenCounts)
    {
        int[] offsets = new int[receivedTokenCounts.Length + 1];
        for (int r = 0; r < receivedTokenCounts.Length; r++)
        {
            ArgumentOutOfRangeException.ThrowIfNegative(receivedTokenCounts[r]);
            offsets[r + 1] = offsets[r] + receivedTokenCounts[r];
        }

        return AllToAllSegment.Of(offsets);
    }

    /// <summary>The dispatch's receives: rank r's rows of the receive buffer (ranks that send none are left out).</summary>
    public IReadOnlyList<AllToAllSegment> DispatchReceives() => AllToAllSegment.Of(TokenOffsets);

    /// <summary>The combine's sends: the rows back to rank r.</summary>
    public IReadOnlyList<AllToAllSegment> CombineSends() => AllToAllSegment.Of(SlotOffsets);

    /// <summary>Gathers each expert row's received row into <paramref name="expertInput"/> (ExpertRows × hidden, grouped by expert).</summary>
    public void Gather(ReadOnlySpan<float> receivedX, int hidden, Span<float> expertInput)
    {
        if (receivedX.Length < ReceivedRows * hidden || expertInput.Length < ExpertRows * hidden)
        {
            throw new ArgumentException($"gather: {ReceivedRows} received rows into {ExpertRows} expert rows of {hidden}; got {receivedX.Length} and {expertInput.Length} values");
        }

        for (int i = 0; i < RowReceived.Length; i++)
        {
            receivedX.Slice(RowReceived[i] * hidden, hidden).CopyTo(expertInput.Slice(i * hidden, hidden));
        }
    }

    /// <summary>Lays the expert outputs (grouped by expert) out for the combine: per source rank, its rows in order, slots ascending.</summary>
    public void PackCombine(ReadOnlySpan<float> expertOutput, int hidden, Span<float> combineSend)
    {
        if (expertOutput.Length < ExpertRows * hidden || combineSend.Length < ExpertRows * hidden)
        {
            throw new ArgumentException($"combine: {ExpertRows} rows of {hidden}; got {expertOutput.Length} and {combineSend.Length} values");
        }

        int row = 0;
        for (int j = 0; j < ReceivedRows; j++)
        {
            for (int s = 0; s < K; s++)
            {
                int i = _rowOfSlot[(j * K) + s];
                if (i >= 0)
                {
                    expertOutput.Slice(i * hidden, hidden).CopyTo(combineSend.Slice(row++ * hidden, hidden));
                }
            }
        }
    }
}
