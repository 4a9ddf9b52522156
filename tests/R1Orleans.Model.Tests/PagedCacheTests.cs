using R1Orleans.Engine;

namespace R1Orleans.Model.Tests;

public sealed class BlockAllocatorTests
{
    [Fact]
    public void Allocates_distinct_blocks_until_the_pool_is_empty()
    {
        var allocator = new BlockAllocator(5);
        var blocks = new List<int>();
        Assert.True(allocator.TryAllocate(2, blocks));
        Assert.True(allocator.TryAllocate(3, blocks));
        Assert.Equal([0, 1, 2, 3, 4], blocks.Order().ToArray());
        Assert.Equal(0, allocator.FreeBlocks);
        Assert.Equal(5, allocator.UsedBlocks);
    }

    [Fact]
    public void Allocation_is_all_or_nothing()
    {
        var allocator = new BlockAllocator(4);
        var first = new List<int>();
        Assert.True(allocator.TryAllocate(3, first));
        var second = new List<int> { 42 };
        Assert.False(allocator.TryAllocate(2, second));
        Assert.Equal([42], second);
        Assert.Equal(1, allocator.FreeBlocks);
    }

    [Fact]
    public void Freeing_returns_blocks_for_reuse()
    {
        var allocator = new BlockAllocator(3);
        var blocks = new List<int>();
        Assert.True(allocator.TryAllocate(3, blocks));
        allocator.Free(blocks.Take(2));
        Assert.Equal(2, allocator.FreeBlocks);
        var again = new List<int>();
        Assert.True(allocator.TryAllocate(2, again));
        Assert.Equal(blocks.Take(2).Order(), again.Order());
    }

    [Fact]
    public void Freeing_a_block_that_does_not_exist_throws()
    {
        var allocator = new BlockAllocator(3);
        Assert.Throws<ArgumentOutOfRangeException>(() => allocator.Free([3]));
        Assert.Throws<ArgumentOutOfRangeException>(() => allocator.Free([-1]));
    }

    [Fact]
    public void Freeing_a_block_twice_is_detected_while_other_blocks_are_in_use()
    {
        var allocator = new BlockAllocator(4);
        var blocks = new List<int>();
        Assert.True(allocator.TryAllocate(4, blocks));
        allocator.Free([blocks[0]]);
        Assert.Throws<InvalidOperationException>(() => allocator.Free([blocks[0]]));
    }

    [Fact]
    public void Freeing_the_same_block_twice_in_one_call_is_detected()
    {
        var allocator = new BlockAllocator(4);
        var blocks = new List<int>();
        Assert.True(allocator.TryAllocate(2, blocks));
        Assert.Throws<InvalidOperationException>(() => allocator.Free([blocks[0], blocks[0]]));
    }

    [Fact]
    public void A_rejected_free_leaves_the_pool_as_it_was()
    {
        var allocator = new BlockAllocator(2);
        Assert.ThrowsAny<Exception>(() => allocator.Free([0]));
        Assert.Equal(2, allocator.FreeBlocks);
        Assert.Equal(0, allocator.UsedBlocks);
        var blocks = new List<int>();
        Assert.True(allocator.TryAllocate(2, blocks));
        Assert.Equal([0, 1], blocks.Order().ToArray());
        Assert.False(allocator.TryAllocate(1, blocks));
    }
}

public sealed class PagedSequenceCacheTests
{
    private const int Width = 3;

    private static float[] Entry(int sequence, int layer, int position) =>
        [(sequence * 1000) + (layer * 100) + position, -position, layer];

    private static float[] Expected(int sequence, int layer, int count) =>
        Enumerable.Range(0, count).SelectMany(p => Entry(sequence, layer, p)).ToArray();

    private static void WriteAll(PagedSequenceCache seq, int sequence, int layers, int count)
    {
        for (int l = 0; l < layers; l++)
        {
            for (int p = 0; p < count; p++)
            {
                seq.Write(l, p, Entry(sequence, l, p));
            }
        }
    }

    [Fact]
    public void Reserve_takes_whole_blocks_and_grows_only_when_needed()
    {
        var pool = new PagedLatentCache(layers: 1, entryDim: Width, blockSize: 4, blocks: 8);
        PagedSequenceCache seq = pool.NewSequence();
        Assert.True(seq.TryReserve(5));
        Assert.Equal(2, seq.BlockTable.Count);
        Assert.Equal(8, seq.Capacity);
        Assert.True(seq.TryReserve(8));
        Assert.Equal(2, seq.BlockTable.Count);
        Assert.True(seq.TryReserve(9));
        Assert.Equal(3, seq.BlockTable.Count);
        Assert.Equal(5, pool.Allocator.FreeBlocks);
    }

    [Fact]
    public void Reserve_is_all_or_nothing_and_a_full_pool_is_a_clear_error()
    {
        var pool = new PagedLatentCache(1, Width, 4, 4);
        PagedSequenceCache a = pool.NewSequence();
        a.Reserve(10);
        PagedSequenceCache b = pool.NewSequence();
        Assert.False(b.TryReserve(8));
        Assert.Empty(b.BlockTable);
        Assert.Equal(1, pool.Allocator.FreeBlocks);
        var e = Assert.Throws<InvalidOperationException>(() => b.Reserve(8));
        Assert.Contains("cache is full", e.Message, StringComparison.Ordinal);
        Assert.True(b.TryReserve(4));
    }

    [Fact]
    public void Write_then_gather_across_block_boundaries_returns_entries_in_position_order()
    {
        var pool = new PagedLatentCache(2, Width, 4, 8);
        PagedSequenceCache seq = pool.NewSequence();
        seq.Reserve(10);
        WriteAll(seq, 0, 2, 10);
        for (int l = 0; l < 2; l++)
        {
            foreach (int count in new[] { 1, 4, 5, 10 })
            {
                float[] dst = new float[count * Width];
                seq.Gather(l, count, dst);
                Assert.Equal(Expected(0, l, count), dst);
            }
        }
    }

    [Fact]
    public void Write_order_does_not_matter()
    {
        var pool = new PagedLatentCache(1, Width, 4, 4);
        PagedSequenceCache seq = pool.NewSequence();
        seq.Reserve(9);
        foreach (int p in new[] { 8, 3, 4, 0, 7, 1, 5, 2, 6 })
        {
            seq.Write(0, p, Entry(0, 0, p));
        }

        float[] dst = new float[9 * Width];
        seq.Gather(0, 9, dst);
        Assert.Equal(Expected(0, 0, 9), dst);
    }

    [Fact]
    public void Two_sequences_with_interleaved_blocks_do_not_overwrite_each_other()
    {
        var pool = new PagedLatentCache(2, Width, 4, 8);
        PagedSequenceCache a = pool.NewSequence(), b = pool.NewSequence();

        // Grow them in turn so their blocks interleave in the pool.
        a.Reserve(4);
        b.Reserve(4);
        a.Reserve(8);
        b.Reserve(8);
        a.Reserve(11);
        Assert.Empty(a.BlockTable.Intersect(b.BlockTable));
        WriteAll(a, 1, 2, 11);
        WriteAll(b, 2, 2, 8);
        for (int l = 0; l < 2; l++)
        {
            float[] da = new float[11 * Width], db = new float[8 * Width];
            a.Gather(l, 11, da);
            b.Gather(l, 8, db);
            Assert.Equal(Expected(1, l, 11), da);
            Assert.Equal(Expected(2, l, 8), db);
        }
    }

    [Fact]
    public void Writing_or_gathering_beyond_the_reserved_positions_throws()
    {
        var pool = new PagedLatentCache(1, Width, 4, 4);
        PagedSequenceCache seq = pool.NewSequence();
        Assert.Throws<InvalidOperationException>(() => seq.Write(0, 0, Entry(0, 0, 0)));
        seq.Reserve(5);
        seq.Write(0, 7, Entry(0, 0, 7));
        Assert.Throws<InvalidOperationException>(() => seq.Write(0, 8, Entry(0, 0, 8)));
        Assert.Throws<InvalidOperationException>(() => seq.Write(0, -1, Entry(0, 0, 0)));
        Assert.Throws<InvalidOperationException>(() => seq.Gather(0, 9, new float[9 * Width]));
    }

    [Fact]
    public void Free_returns_every_block_and_forgets_the_table()
    {
        var pool = new PagedLatentCache(1, Width, 4, 4);
        PagedSequenceCache seq = pool.NewSequence();
        seq.Reserve(13);
        Assert.Equal(0, pool.Allocator.FreeBlocks);
        seq.Free();
        Assert.Equal(4, pool.Allocator.FreeBlocks);
        Assert.Empty(seq.BlockTable);
        Assert.Equal(0, seq.Capacity);
        Assert.Throws<InvalidOperationException>(() => seq.Write(0, 0, Entry(0, 0, 0)));

        // Freeing a freed sequence again gives nothing back twice.
        seq.Free();
        Assert.Equal(4, pool.Allocator.FreeBlocks);
    }

    [Fact]
    public void Pool_sizes_follow_layers_blocks_and_entry_width()
    {
        var pool = new PagedLatentCache(3, 5, 4, 6);
        Assert.Equal(3L * 6 * 4 * 5 * sizeof(float), pool.Bytes);
        Assert.Equal(0, pool.BlocksFor(0));
        Assert.Equal(1, pool.BlocksFor(4));
        Assert.Equal(2, pool.BlocksFor(5));
    }

    [Fact]
    public void A_layer_holds_memory_only_once_it_is_written_or_read_and_block_tables_touch_none()
    {
        var pool = new PagedLatentCache(3, 5, 4, 6);
        Assert.Equal(0, pool.AllocatedBytes);
        PagedSequenceCache seq = pool.NewSequence();
        seq.Reserve(6);

        // The block table alone (what a cache kept on a GPU at the same block ids needs) allocates nothing.
        LatentBlocks blocks = seq.Blocks(6);
        Assert.Equal(seq.BlockTable.Take(2), blocks.BlockTable.ToArray());
        Assert.Equal(4, blocks.BlockSize);
        Assert.Equal(6, blocks.PoolBlocks);
        Assert.Equal(0, pool.AllocatedBytes);

        // Writing layer 2 allocates that layer only, and what was written reads back.
        seq.Write(2, 5, [1f, 2f, 3f, 4f, 5f]);
        Assert.Equal(6L * 4 * 5 * sizeof(float), pool.AllocatedBytes);
        float[] back = new float[6 * 5];
        seq.Gather(2, 6, back);
        Assert.Equal([1f, 2f, 3f, 4f, 5f], back[25..]);

        // Reading a layer never written allocates it (zeros), as before.
        seq.Gather(0, 6, back);
        Assert.All(back, v => Assert.Equal(0f, v));
        Assert.Equal(2 * 6L * 4 * 5 * sizeof(float), pool.AllocatedBytes);
        Assert.Equal(3L * 6 * 4 * 5 * sizeof(float), pool.Bytes);
    }

    [Fact]
    public void Blocks_for_more_positions_than_reserved_are_refused()
    {
        var pool = new PagedLatentCache(1, 2, 4, 3);
        PagedSequenceCache seq = pool.NewSequence();
        seq.Reserve(4);
        Assert.Throws<InvalidOperationException>(() => seq.Blocks(5));
    }
}
