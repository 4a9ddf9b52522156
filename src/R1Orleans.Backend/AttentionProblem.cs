namespace R1Orleans.Backend;

/// <summary>
/// One sequence's causal multi-head attention with per-head keys split in a head-specific part and a rope part
/// shared by all heads (MLA's decoupled RoPE key). Query i sits at position FirstQueryPosition + i and attends
/// to keys 0..that position.
/// </summary>
public readonly ref struct AttentionProblem
{
    /// <summary>[Queries, Heads, NopeDim + RopeDim]: per head [nope | rope], rope already rotated.</summary>
    public required ReadOnlySpan<float> Q { get; init; }

    /// <summary>[Keys, Heads, NopeDim + VDim]: per head [k_nope | v] (kv_b's output).</summary>
    public required ReadOnlySpan<float> KeyValue { get; init; }

    /// <summary>[Keys, KeyRopeStride], the rotated rope key shared by all heads at offset KeyRopeOffset of each row.</summary>
    public required ReadOnlySpan<float> KeyRope { get; init; }

    public required int KeyRopeStride { get; init; }

    public required int KeyRopeOffset { get; init; }

    /// <summary>[Queries, Heads, VDim].</summary>
    public required Span<float> Output { get; init; }

    public required int Queries { get; init; }

    public required int Keys { get; init; }

    public required int FirstQueryPosition { get; init; }

    public required int Heads { get; init; }

    public required int NopeDim { get; init; }

    public required int RopeDim { get; init; }

    public required int VDim { get; init; }

    public required float Scale { get; init; }
}
