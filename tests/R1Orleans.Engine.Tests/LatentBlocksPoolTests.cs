using R1Orleans.Engine;
using R1Orleans.Model;
using Xunit;

namespace R1Orleans.Engine.Tests;

/// <summary>A cache kept elsewhere at the same block ids (the device forward's) tells pools apart by LatentBlocks.Pool.</summary>
public sealed class LatentBlocksPoolTests
{
    [Fact]
    public void BlocksNameTheirPoolSoThatTwoPoolsOfOneShapeAreToldApart()
    {
        var first = new PagedLatentCache(layers: 2, entryDim: 8, blockSize: 4, blocks: 6);
        var second = new PagedLatentCache(layers: 2, entryDim: 8, blockSize: 4, blocks: 6);
        PagedSequenceCache a = first.NewSequence(), b = first.NewSequence(), c = second.NewSequence();
        foreach (PagedSequenceCache s in new[] { a, b, c })
        {
            s.Reserve(5);
        }

        LatentBlocks la = a.Blocks(5), lb = b.Blocks(5), lc = c.Blocks(5);
        Assert.Same(first, la.Pool);
        Assert.Same(la.Pool, lb.Pool);
        Assert.NotSame(la.Pool, lc.Pool);
        Assert.Equal((6, 4, 2), (lc.PoolBlocks, lc.BlockSize, lc.BlockTable.Length));
    }
}
