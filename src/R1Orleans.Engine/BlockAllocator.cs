namespace R1Orleans.Engine;

/// <summary>A free list of fixed-size KV block ids (vLLM's block pool). Thread-safe.</summary>
public sealed class BlockAllocator
{
    private readonly Stack<int> _free;
    private readonly bool[] _allocated;
    private readonly object _gate = new();

    public BlockAllocator(int blocks)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(blocks);
        Capacity = blocks;
        _free = new Stack<int>(Enumerable.Range(0, blocks).Reverse());
        _allocated = new bool[blocks];
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
                int b = _free.Pop();
                _allocated[b] = true;
                into.Add(b);
            }

            return true;
        }
    }

    /// <summary>Returns blocks to the pool. Every id is checked first (exists, allocated, not repeated), so a bad call changes nothing.</summary>
    public void Free(IEnumerable<int> blocks)
    {
        int[] ids = blocks.ToArray();
        lock (_gate)
        {
            var seen = new HashSet<int>();
            foreach (int b in ids)
            {
                if ((uint)b >= (uint)Capacity)
                {
                    throw new ArgumentOutOfRangeException(nameof(blocks), $"block {b} does not exist (capacity {Capacity})");
                }

                if (!_allocated[b] || !seen.Add(b))
                {
                    throw new InvalidOperationException($"block {b} was freed twice");
                }
            }

            foreach (int b in ids)
            {
                _allocated[b] = false;
                _free.Push(b);
            }
        }
    }
}
