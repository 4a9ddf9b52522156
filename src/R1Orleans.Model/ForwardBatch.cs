namespace R1Orleans.Model;

/// <summary>
/// One sequence's part of a flat batch: rows [Start, Start + Length) are its new tokens, at positions
/// FirstPosition.. (positions below FirstPosition are already in its cache).
/// </summary>
public sealed record SequenceSlice(int Start, int Length, int FirstPosition, ILatentSequenceCache Cache)
{
    public int ContextLength => FirstPosition + Length;

    /// <summary>Naive for prefill chunks, absorbed for decode and verification; Auto: absorbed for single tokens.</summary>
    public AttentionMode Mode { get; init; } = AttentionMode.Auto;

    /// <summary>The attention this slice runs with, given the batch-wide override.</summary>
    public bool UsesAbsorbed(AttentionMode batchMode)
    {
        AttentionMode m = batchMode != AttentionMode.Auto ? batchMode : Mode;
        return m == AttentionMode.Absorbed || (m == AttentionMode.Auto && Length == 1);
    }
}

/// <summary>
/// Per-step metadata for a batch of sequences of different lengths, flattened to rows (vLLM's varlen layout).
/// Everything but attention works on all rows at once; attention runs per sequence against its own cache.
/// </summary>
public sealed class ForwardBatch
{
    public required int[] Tokens { get; init; }

    public required IReadOnlyList<SequenceSlice> Sequences { get; init; }

    public AttentionMode Attention { get; init; } = AttentionMode.Auto;

    /// <summary>Sees every MoE layer's routing decision (golden checks, expert load statistics).</summary>
    public IRoutingObserver? RoutingObserver { get; init; }

    /// <summary>
    /// The gate bias every MoE layer of this step routes with, one version for the whole step (the engine sets it on the
    /// main pass and the MTP pass alike). Null: the model's online bias, read once as the pass starts, or the checkpoint's.
    /// </summary>
    public GateBias? GateBias { get; init; }

    public int Rows => Tokens.Length;

    /// <summary>This batch with the step's gate bias fixed (every other field as it is).</summary>
    internal ForwardBatch WithGateBias(GateBias? bias) =>
        bias is null || GateBias is not null
            ? this
            : new ForwardBatch { Tokens = Tokens, Sequences = Sequences, Attention = Attention, RoutingObserver = RoutingObserver, GateBias = bias };

    /// <summary>The position of every row.</summary>
    public int[] Positions()
    {
        var p = new int[Rows];
        foreach (SequenceSlice s in Sequences)
        {
            for (int i = 0; i < s.Length; i++)
            {
                p[s.Start + i] = s.FirstPosition + i;
            }
        }

        return p;
    }

    /// <summary>Checks that slices tile the rows exactly, so a bad batch fails here and not inside a kernel.</summary>
    public void Validate()
    {
        int next = 0;
        foreach (SequenceSlice s in Sequences)
        {
            if (s.Start != next || s.Length <= 0 || s.FirstPosition < 0)
            {
                throw new ArgumentException($"batch slices must tile the rows in order with positive lengths; slice at {s.Start} (length {s.Length}) follows row {next}");
            }

            next += s.Length;
        }

        if (next != Rows)
        {
            throw new ArgumentException($"batch slices cover {next} rows, the batch has {Rows} tokens");
        }
    }
}
