namespace R1Orleans.Cuda.Forward;

/// <summary>
/// The latent KV cache in device memory: per layer a pool of Blocks × BlockSize entries of EntryDim floats
/// ([RMSNorm(c) | rotated k_rope], as the CPU cache keeps them), paged as vLLM pages it; blocks are handed out on the host.
/// </summary>
public sealed class DeviceLatentCache : IDisposable
{
    private readonly Stack<int> _free;

    public DeviceLatentCache(CudaContext context, int layers, int entryDim, int blocks, int blockSize)
    {
        ArgumentNullException.ThrowIfNull(context);
        if (layers <= 0 || entryDim <= 0 || blocks <= 0 || blockSize <= 0)
        {
            throw new ArgumentException($"cache of {layers} layers × {blocks} blocks × {blockSize} entries of {entryDim} floats: every size must be positive");
        }

        Layers = layers;
        EntryDim = entryDim;
        Blocks = blocks;
        BlockSize = blockSize;
        Pool = context.Allocate(layers * LayerBytes);
        _free = new Stack<int>(Enumerable.Range(0, blocks).Reverse());
    }

    public int Layers { get; }

    public int EntryDim { get; }

    public int Blocks { get; }

    public int BlockSize { get; }

    public int FreeBlocks => _free.Count;

    public DeviceBuffer Pool { get; }

    public long LayerBytes => (long)Blocks * BlockSize * EntryDim * sizeof(float);

    /// <summary>Layer <paramref name="layer"/>'s pool.</summary>
    public ulong LayerPointer(int layer) => Pool.Pointer + ((ulong)layer * (ulong)LayerBytes);

    public DeviceSequence NewSequence() => new(this);

    internal int TakeBlock() =>
        _free.Count > 0 ? _free.Pop() : throw new InvalidOperationException($"the device latent cache is full ({Blocks} blocks of {BlockSize})");

    internal void Return(IEnumerable<int> blocks)
    {
        foreach (int b in blocks)
        {
            _free.Push(b);
        }
    }

    public void Dispose() => Pool.Dispose();
}

/// <summary>One sequence's blocks in a <see cref="DeviceLatentCache"/> and how many positions it holds.</summary>
public sealed class DeviceSequence
{
    private readonly DeviceLatentCache _cache;
    private readonly List<int> _blocks = [];

    internal DeviceSequence(DeviceLatentCache cache) => _cache = cache;

    /// <summary>Positions written (or reserved by <see cref="Append"/>).</summary>
    public int Length { get; private set; }

    public int[] BlockTable => [.. _blocks];

    /// <summary>The step entry for <paramref name="tokens"/> as the next positions: takes blocks as needed.</summary>
    public StepSequence Append(int[] tokens)
    {
        ArgumentNullException.ThrowIfNull(tokens);
        int first = Length;
        int need = (first + tokens.Length + _cache.BlockSize - 1) / _cache.BlockSize;
        while (_blocks.Count < need)
        {
            _blocks.Add(_cache.TakeBlock());
        }

        Length = first + tokens.Length;
        return new StepSequence(tokens, first, BlockTable);
    }

    public void Free()
    {
        _cache.Return(_blocks);
        _blocks.Clear();
        Length = 0;
    }
}
