using R1Orleans.Model;
using R1Orleans.Placement;

namespace R1Orleans.Transport.AllToAll;

/// <summary>
/// A rank's side of DeepEP's all-to-all dispatch for one MoE layer step, on the host (the GPU exchange copies these
/// index arrays to the device and moves the rows with grouped ncclSend/ncclRecv). Rows are grouped by destination rank
/// and, within one, in token order; a token goes ONCE to each rank that runs any of its slots, with its K slot experts
/// (<see cref="SlotExperts"/>: the expert id where that rank runs the slot, -1 elsewhere, as DeepEP's recv_topk_idx).
/// <see cref="SendTokenCounts"/> is what the ranks exchange first (DeepEP's notify_dispatch), so each can size and place
/// what it receives (<see cref="DispatchReceiveLayout"/>). The combine comes back per (token, slot) in the same order
/// (each destination's tokens in order, each token's slots ascending), and <see cref="UnpackCombine"/> puts every row at
/// its (token, slot) place, for the slot-order combine the CPU exchange uses: the same bits.
/// </summary>
public sealed class DispatchSendLayout
{
    private DispatchSendLayout(int ranks, int tokens, int k, int[] tokenOffsets, int[] sendTokens, int[] slotExperts, int[] slotOffsets)
    {
        Ranks = ranks;
        Tokens = tokens;
        K = k;
        TokenOffsets = tokenOffsets;
        SendTokens = sendTokens;
        SlotExperts = slotExperts;
        SlotOffsets = slotOffsets;
        SendTokenCounts = [.. Enumerable.Range(0, ranks).Select(r => tokenOffsets[r + 1] - tokenOffsets[r])];
    }

    public int Ranks { get; }

    public int Tokens { get; }

    public int K { get; }

    /// <summary>Rows sent to rank r: [TokenOffsets[r], TokenOffsets[r + 1]) of <see cref="SendTokens"/> (Ranks + 1 entries).</summary>
    public int[] TokenOffsets { get; }

    /// <summary>Tokens sent to each rank (what the ranks exchange before the rows).</summary>
    public int[] SendTokenCounts { get; }

    /// <summary>The source token of each send row.</summary>
    public int[] SendTokens { get; }

    /// <summary>Send row i's slots: SlotExperts[i * K + k] is the expert the destination runs for slot k, or -1.</summary>
    public int[] SlotExperts { get; }

    /// <summary>Combine rows coming back from rank r: [SlotOffsets[r], SlotOffsets[r + 1]) (one per (token, slot) it ran).</summary>
    public int[] SlotOffsets { get; }

    /// <summary>All send rows.</summary>
    public int SendRows => TokenOffsets[Ranks];

    /// <summary>All combine rows (Tokens × K: every slot runs somewhere).</summary>
    public int CombineRows => SlotOffsets[Ranks];

    /// <summary>
    /// The layout of a routed step: the plan's member indexes are the ranks (a communicator generation lists the map's
    /// members in map order), its holder of (token, slot) the rank that runs it.
    /// </summary>
    public static DispatchSendLayout Build(ExpertRouting routing, DispatchPlan plan)
    {
        ArgumentNullException.ThrowIfNull(routing);
        ArgumentNullException.ThrowIfNull(plan);
        if (plan.Tokens != routing.Tokens || plan.K != routing.K)
        {
            throw new ArgumentException($"the plan routes {plan.Tokens} tokens × {plan.K}, the routing has {routing.Tokens} × {routing.K}", nameof(plan));
        }

        int[] holders = new int[routing.TopkIds.Length];
        for (int t = 0; t < routing.Tokens; t++)
        {
            for (int k = 0; k < routing.K; k++)
            {
                holders[(t * routing.K) + k] = plan.HolderOf(t, k);
            }
        }

        return Build(plan.Map.MemberCount, routing.Tokens, routing.K, routing.TopkIds, holders);
    }

    /// <summary>The layout from each (token, slot)'s expert (<paramref name="topkIds"/>) and the rank that runs it (<paramref name="holderRanks"/>).</summary>
    public static DispatchSendLayout Build(int ranks, int tokens, int k, ReadOnlySpan<int> topkIds, ReadOnlySpan<int> holderRanks)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(ranks, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(tokens);
        ArgumentOutOfRangeException.ThrowIfLessThan(k, 1);
        if (topkIds.Length != tokens * k || holderRanks.Length != tokens * k)
        {
            throw new ArgumentException($"{tokens} tokens × {k} slots: {topkIds.Length} expert ids and {holderRanks.Length} holders given");
        }

        // Tokens and slots per destination: a token counts once per rank that runs any of its slots.
        int[] tokenOffsets = new int[ranks + 1];
        int[] slotOffsets = new int[ranks + 1];
        Span<int> lastToken = ranks <= 256 ? stackalloc int[ranks] : new int[ranks];
        lastToken.Fill(-1);
        for (int t = 0; t < tokens; t++)
        {
            for (int s = 0; s < k; s++)
            {
                int r = holderRanks[(t * k) + s];
                if ((uint)r >= (uint)ranks)
                {
                    throw new ArgumentOutOfRangeException(nameof(holderRanks), $"token {t} slot {s} goes to rank {r}; the communicator has {ranks}");
                }

                if (topkIds[(t * k) + s] < 0)
                {
                    throw new ArgumentOutOfRangeException(nameof(topkIds), $"token {t} slot {s} names expert {topkIds[(t * k) + s]}");
                }

                slotOffsets[r + 1]++;
                if (lastToken[r] != t)
                {
                    lastToken[r] = t;
                    tokenOffsets[r + 1]++;
                }
            }
        }

        for (int r = 0; r < ranks; r++)
        {
            tokenOffsets[r + 1] += tokenOffsets[r];
            slotOffsets[r + 1] += slotOffsets[r];
        }

        // Rows by destination, tokens ascending within one (tokens are visited in order).
        int rows = tokenOffsets[ranks];
        int[] sendTokens = new int[rows];
        int[] slotExperts = new int[rows * k];
        Array.Fill(slotExperts, -1);
        Span<int> next = ranks <= 256 ? stackalloc int[ranks] : new int[ranks];
        tokenOffsets.AsSpan(0, ranks).CopyTo(next);
        lastToken.Fill(-1);
        Span<int> rowOf = ranks <= 256 ? stackalloc int[ranks] : new int[ranks];
        for (int t = 0; t < tokens; t++)
        {
            for (int s = 0; s < k; s++)
            {
                int r = holderRanks[(t * k) + s];
                if (lastToken[r] != t)
                {
                    lastToken[r] = t;
                    rowOf[r] = next[r]++;
                    sendTokens[rowOf[r]] = t;
                }

                slotExperts[(rowOf[r] * k) + s] = topkIds[(t * k) + s];
            }
        }

        return new DispatchSendLayout(ranks, tokens, k, tokenOffsets, sendTokens, slotExperts, slotOffsets);
    }

    /// <summary>The dispatch's sends: rank r's rows of the send buffer (ranks with none are left out).</summary>
    public IReadOnlyList<AllToAllSegment> DispatchSends() => AllToAllSegment.Of(TokenOffsets);

    /// <summary>The combine's receives: the rows rank r sends back, one per (token, slot) it ran.</summary>
    public IReadOnlyList<AllToAllSegment> CombineReceives() => AllToAllSegment.Of(SlotOffsets);

    /// <summary>Copies each send row's token from <paramref name="x"/> (tokens × hidden) into <paramref name="sendX"/> (SendRows × hidden).</summary>
    public void Pack(ReadOnlySpan<float> x, int hidden, Span<float> sendX)
    {
        if (x.Length != Tokens * hidden || sendX.Length < SendRows * hidden)
        {
            throw new ArgumentException($"pack: {Tokens} tokens × {hidden} into {SendRows} rows; x holds {x.Length}, the send buffer {sendX.Length}");
        }

        for (int i = 0; i < SendTokens.Length; i++)
        {
            x.Slice(SendTokens[i] * hidden, hidden).CopyTo(sendX.Slice(i * hidden, hidden));
        }
    }

    /// <summary>
    /// Puts the combine rows received (grouped by the rank that ran them, <see cref="SlotOffsets"/>) at their (token, slot)
    /// places in <paramref name="expertOut"/> (Tokens × K × hidden), ready for the slot-order combine.
    /// </summary>
    public void UnpackCombine(ReadOnlySpan<float> combined, int hidden, Span<float> expertOut)
    {
        if (combined.Length < CombineRows * hidden || expertOut.Length < Tokens * K * hidden)
        {
            throw new ArgumentException($"combine: {CombineRows} rows × {hidden} back into {Tokens} tokens × {K}; got {combined.Length} and {expertOut.Length} values");
        }

        int row = 0;
        for (int i = 0; i < SendTokens.Length; i++)
        {
            int t = SendTokens[i];
            for (int s = 0; s < K; s++)
            {
                if (SlotExperts[(i * K) + s] >= 0)
                {
                    combined.Slice(row++ * hidden, hidden).CopyTo(expertOut.Slice(((t * K) + s) * hidden, hidden));
                }
            }
        }
    }
}
