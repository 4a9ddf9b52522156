namespace R1Orleans.Backend;

/// <summary>
/// Absorbed MLA for one sequence: keys are the cached latents [c | k_rope] (width LatentDim + RopeDim).
/// Queries are already absorbed: per head [q·W_UK (LatentDim) | rotated q_rope (RopeDim)].
/// The output is the attention-weighted latent per head, [Queries, Heads, LatentDim]; the caller applies W_UV.
/// </summary>
public readonly ref struct LatentAttentionProblem
{
    public required ReadOnlySpan<float> Q { get; init; }

    /// <summary>
    /// [Keys, LatentDim + RopeDim] contiguous when <see cref="BlockTable"/> is empty; otherwise the paged pool of one
    /// layer ([blocks × BlockSize, LatentDim + RopeDim]), read in place through the block table.
    /// </summary>
    public required ReadOnlySpan<float> Latent { get; init; }

    /// <summary>The sequence's blocks in position order (key u is row u % BlockSize of block BlockTable[u / BlockSize]); empty: contiguous.</summary>
    public ReadOnlySpan<int> BlockTable { get; init; }

    /// <summary>Positions per block of <see cref="BlockTable"/>.</summary>
    public int BlockSize { get; init; }

    public required Span<float> Output { get; init; }

    public required int Queries { get; init; }

    public required int Keys { get; init; }

    public required int FirstQueryPosition { get; init; }

    public required int Heads { get; init; }

    public required int LatentDim { get; init; }

    public required int RopeDim { get; init; }

    public required float Scale { get; init; }
}
