namespace R1Orleans.Engine;

/// <summary>A free list of fixed-size KV block ids (vLLM's block pool). Thread-safe.</summary>
public sealed class BlockAllocator
{
    private readonly Stack<int> _free;
    private readonly object _gate = new();

    public BlockAllocator(int blocks)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(blocks);
        Capacity = blocks;
        _free = new Stack<int>(Enumerable.Range(0, blocks).Reverse());
    }

    public int Capacity { get; }

    public int FreeBlocks
    {
        get
        {
            lock (_gate)
            {
                return _free.Count;
            }
        }
    }

    public int UsedBlocks => Capacity - FreeBlocks;

    /// <summary>Takes count blocks, or none when fewer are free (the caller then waits or preempts).</summary>
    public bool TryAllocate(int count, List<int> into)
    {
        lock (_gate)
        {
            if (_free.Count < count)
            {
                return false;
            }

            for (int i = 0; i < count; i++)
            {
                into.Add(_free.Pop());
            }

            return true;
        }
    }

    public void Free(IEnumerable<int> blocks)
    {
        lock (_gate)
        {
            foreach (int b in blocks)
            {
                if ((uint)b >= (uint)Capacity)
                {
                    throw new ArgumentOutOfRangeException(nameof(blocks), $"block {b} does not exist (capacity {Capacity})");
                }

                _free.Push(b);
            }

            if (_free.Count > Capacity)
            {
                throw new InvalidOperationException("a block was freed twice");
            }
        }
    }
}
