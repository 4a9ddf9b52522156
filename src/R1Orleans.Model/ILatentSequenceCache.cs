namespace R1Orleans.Model;

/// <summary>
/// One sequence's latent KV cache as MLA sees it: per layer and position, one entry of
/// kv_lora_rank + qk_rope_head_dim floats ([normalized c | rotated k_rope]). The engine implements it with paged blocks.
/// </summary>
public interface ILatentSequenceCache
{
    /// <summary>Stores the entry for a position (the engine has reserved room for it).</summary>
    void Write(int layer, int position, ReadOnlySpan<float> entry);

    /// <summary>Copies the entries of positions [0, count) into dst [count, entry width].</summary>
    void Gather(int layer, int count, Span<float> dst);

    /// <summary>Where positions [0, count) of a layer live, to be read in place (absorbed attention) instead of gathered.</summary>
    LatentPages Pages(int layer, int count);

    /// <summary>The blocks that hold positions [0, count), without touching any layer's latents (a cache kept elsewhere
    /// at the same block ids, as the device-resident forward keeps it, needs only these).</summary>
    LatentBlocks Blocks(int count);
}

/// <summary>
/// A sequence's block table for its first positions, the block size, how many blocks the pool has, and the pool itself
/// (its identity only: a cache kept elsewhere at the same block ids mirrors one pool, and must know when a step comes
/// from another).
/// </summary>
public readonly ref struct LatentBlocks(ReadOnlySpan<int> blockTable, int blockSize, int poolBlocks, object pool)
{
    public object Pool { get; } = pool;

    public ReadOnlySpan<int> BlockTable { get; } = blockTable;

    public int BlockSize { get; } = blockSize;

    public int PoolBlocks { get; } = poolBlocks;
}

/// <summary>
/// A sequence's latents of one layer in place: the layer's block pool ([blocks × BlockSize, entry width]) and the
/// sequence's block table (position u is row u % BlockSize of block BlockTable[u / BlockSize]).
/// </summary>
public readonly ref struct LatentPages(ReadOnlySpan<float> pool, ReadOnlySpan<int> blockTable, int blockSize)
{
    public ReadOnlySpan<float> Pool { get; } = pool;

    public ReadOnlySpan<int> BlockTable { get; } = blockTable;

    public int BlockSize { get; } = blockSize;
}
