namespace R1Orleans.Engine;

/// <summary>
/// The latent KV store of one attention rank: for every cache layer, Blocks × BlockSize entries of
/// EntryDim floats (kv_lora_rank + qk_rope_head_dim). Sequences own blocks through a block table. A layer's memory is
/// allocated when the layer is first written or read: the layers a device-resident forward keeps on the GPU never are
/// (only their block tables are used here).
/// </summary>
public sealed class PagedLatentCache
{
    private readonly float[]?[] _layers;
    private readonly long _perLayer;

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
        Blocks = blocks;
        _perLayer = perLayer;
        _layers = new float[layers][];
    }

    public int Layers { get; }

    public int EntryDim { get; }

    public int BlockSize { get; }

    public BlockAllocator Allocator { get; }

    public int Blocks { get; }

    /// <summary>Bytes every layer takes once used.</summary>
    public long Bytes => Layers * _perLayer * sizeof(float);

    /// <summary>Bytes of the layers used so far.</summary>
    public long AllocatedBytes => _layers.Sum(l => l is null ? 0L : (long)l.Length * sizeof(float));

    /// <summary>Blocks needed to hold tokens positions.</summary>
    public int BlocksFor(int tokens) => (tokens + BlockSize - 1) / BlockSize;

    public PagedSequenceCache NewSequence() => new(this);

    internal Span<float> Entry(int layer, int block, int offset) =>
        Layer(layer).AsSpan(((block * BlockSize) + offset) * EntryDim, EntryDim);

    internal ReadOnlySpan<float> LayerPool(int layer) => Layer(layer);

    internal Span<float> BlockSpan(int layer, int block, int entries) =>
        Layer(layer).AsSpan(block * BlockSize * EntryDim, entries * EntryDim);

    /// <summary>A layer's pool, allocated on first use (attention reads layers from several threads: one array wins).</summary>
    private float[] Layer(int layer)
    {
        float[]? pool = Volatile.Read(ref _layers[layer]);
        if (pool is not null)
        {
            return pool;
        }

        var fresh = new float[_perLayer];
        return Interlocked.CompareExchange(ref _layers[layer], fresh, null) ?? fresh;
    }
}
