namespace R1Orleans.Engine;

/// <summary>
/// The latent KV store of one attention rank: for every cache layer, Blocks × BlockSize entries of
/// EntryDim floats (kv_lora_rank + qk_rope_head_dim). Sequences own blocks through a block table.
/// </summary>
public sealed class PagedLatentCache
{
    private readonly float[][] _layers;

    public PagedLatentCache(int layers, int entryDim, int blockSize, int blocks)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(layers);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(entryDim);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(blockSize);
        long perLayer = (long)blocks * blockSize * entryDim;
        if (perLayer > Array.MaxLength)
        {
            throw new ArgumentOutOfRangeException(nameof(blocks), $"{blocks} blocks of {blockSize} × {entryDim} floats exceed one array per layer; use fewer blocks");
        }

        Layers = layers;
        EntryDim = entryDim;
        BlockSize = blockSize;
        Allocator = new BlockAllocator(blocks);
        _layers = new float[layers][];
        for (int l = 0; l < layers; l++)
        {
            _layers[l] = new float[perLayer];
        }
    }

    public int Layers { get; }

    public int EntryDim { get; }

    public int BlockSize { get; }

    public BlockAllocator Allocator { get; }

    public long Bytes => (long)Layers * _layers[0].Length * sizeof(float);

    /// <summary>Blocks needed to hold tokens positions.</summary>
    public int BlocksFor(int tokens) => (tokens + BlockSize - 1) / BlockSize;

    public PagedSequenceCache NewSequence() => new(this);

    internal Span<float> Entry(int layer, int block, int offset) =>
        _layers[layer].AsSpan(((block * BlockSize) + offset) * EntryDim, EntryDim);

    internal ReadOnlySpan<float> LayerPool(int layer) => _layers[layer];

    internal Span<float> BlockSpan(int layer, int block, int entries) =>
        _layers[layer].AsSpan(block * BlockSize * EntryDim, entries * EntryDim);
}
