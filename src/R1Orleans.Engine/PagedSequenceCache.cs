using R1Orleans.Model;

namespace R1Orleans.Engine;

/// <summary>
/// One sequence's view of the paged latent cache: a block table mapping position / BlockSize to a block id.
/// Reserve room before a step; Free returns every block (finish, cancel, preemption).
/// </summary>
public sealed class PagedSequenceCache : ILatentSequenceCache
{
    private readonly PagedLatentCache _pool;
    private readonly List<int> _blockTable = [];

    internal PagedSequenceCache(PagedLatentCache pool) => _pool = pool;

    public IReadOnlyList<int> BlockTable => _blockTable;

    /// <summary>Positions that fit in the blocks held now.</summary>
    public int Capacity => _blockTable.Count * _pool.BlockSize;

    /// <summary>Makes room for positions [0, tokens); false (and nothing taken) when the pool lacks blocks.</summary>
    public bool TryReserve(int tokens)
    {
        int need = _pool.BlocksFor(tokens) - _blockTable.Count;
        return need <= 0 || _pool.Allocator.TryAllocate(need, _blockTable);
    }

    /// <summary>Like TryReserve, but a full pool is an error.</summary>
    public void Reserve(int tokens)
    {
        if (!TryReserve(tokens))
        {
            throw new InvalidOperationException($"the latent KV cache is full: {tokens} positions need {_pool.BlocksFor(tokens)} blocks, {_pool.Allocator.FreeBlocks} free of {_pool.Allocator.Capacity}");
        }
    }

    public void Free()
    {
        _pool.Allocator.Free(_blockTable);
        _blockTable.Clear();
    }

    public void Write(int layer, int position, ReadOnlySpan<float> entry)
    {
        if (position >= Capacity || position < 0)
        {
            throw new InvalidOperationException($"position {position} is outside the {Capacity} reserved positions of this sequence");
        }

        entry.CopyTo(_pool.Entry(layer, _blockTable[position / _pool.BlockSize], position % _pool.BlockSize));
    }

    public LatentPages Pages(int layer, int count)
    {
        if (count > Capacity)
        {
            throw new InvalidOperationException($"{count} positions read in place, {Capacity} reserved");
        }

        return new LatentPages(_pool.LayerPool(layer), System.Runtime.InteropServices.CollectionsMarshal.AsSpan(_blockTable)[.._pool.BlocksFor(count)], _pool.BlockSize);
    }

    public LatentBlocks Blocks(int count)
    {
        if (count > Capacity)
        {
            throw new InvalidOperationException($"{count} positions' blocks asked for, {Capacity} reserved");
        }

        return new LatentBlocks(System.Runtime.InteropServices.CollectionsMarshal.AsSpan(_blockTable)[.._pool.BlocksFor(count)], _pool.BlockSize, _pool.Blocks, _pool);
    }

    public void Gather(int layer, int count, Span<float> dst)
    {
        if (count > Capacity)
        {
            throw new InvalidOperationException($"gather of {count} positions, {Capacity} reserved");
        }

        int bs = _pool.BlockSize;
        int width = _pool.EntryDim;
        for (int b = 0; b * bs < count; b++)
        {
            int entries = Math.Min(bs, count - (b * bs));
            _pool.BlockSpan(layer, _blockTable[b], entries).CopyTo(dst.Slice(b * bs * width, entries * width));
        }
    }
}
