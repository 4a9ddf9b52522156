namespace R1Orleans.Cuda.Tests;

public class MlaDecodeLaunchTests
{
    [Fact]
    public void SixtyFourSequencesOf4096_OnAnH200_UseOneSplit()
    {
        // 64 x 2 head blocks = 128 CTAs fill 128 of 132 SMs in one wave; a second split would double the waves.
        Assert.Equal(1, MlaDecode.ChooseSplits(batch: 64, heads: 128, maxSeqLen: 4096, multiprocessors: 132, maxSplits: 64));
    }

    [Fact]
    public void OneSequence_IsSplitAcrossTheSms()
    {
        // 2 CTAs would leave 130 SMs idle: split the 64 pages so that one wave covers the SMs.
        int s = MlaDecode.ChooseSplits(batch: 1, heads: 128, maxSeqLen: 4096, multiprocessors: 132, maxSplits: 64);
        Assert.InRange(s, 32, 64);
        Assert.True(2 * s <= 132, $"{s} splits need more than one wave");
    }

    [Fact]
    public void Splits_NeverExceedThePagesOrTheLimit()
    {
        Assert.Equal(1, MlaDecode.ChooseSplits(batch: 1, heads: 64, maxSeqLen: 64, multiprocessors: 132, maxSplits: 64));
        Assert.Equal(3, MlaDecode.ChooseSplits(batch: 1, heads: 64, maxSeqLen: 129, multiprocessors: 132, maxSplits: 64));
        Assert.Equal(4, MlaDecode.ChooseSplits(batch: 1, heads: 64, maxSeqLen: 100_000, multiprocessors: 132, maxSplits: 4));
    }

    [Fact]
    public void AValidBatch_IsAccepted() =>
        // Sequence 0: 65 tokens, 2 pages; sequence 1: 64 tokens, 1 page (its second entry is never read, so -1 is fine).
        MlaDecode.ValidateBatch([3, 0, 1, -1], [65, 64], batch: 2, maxPagesPerSequence: 2, cachePages: 4);

    [Fact]
    public void APageOutsideTheCache_IsRejectedNamingSequenceAndPage()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => MlaDecode.ValidateBatch([3, 0, 1, 4], [65, 65], 2, 2, cachePages: 4));
        Assert.Contains("sequence 1 page 1: cache page 4", e.Message);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(129)]
    public void ASequenceLengthOutsideItsPages_IsRejected(int length)
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => MlaDecode.ValidateBatch([0, 1], [length], 1, 2, 4));
        Assert.Contains($"sequence 0: length {length}", e.Message);
    }

    [Fact]
    public void Blocks_of_16_tokens_are_checked_by_the_blocks_a_sequence_covers()
    {
        // 33 tokens cover three 16-token blocks: the third entry is read and must be in the cache.
        MlaDecode.ValidateBatch([7, 2, 5], [33], batch: 1, maxPagesPerSequence: 3, cachePages: 8, blockSize: 16);
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => MlaDecode.ValidateBatch([7, 2, 8], [33], 1, 3, cachePages: 8, blockSize: 16));
        Assert.Contains("sequence 0 page 2: cache page 8", e.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => MlaDecode.ValidateBatch([7, 2, 5], [49], 1, 3, 8, blockSize: 16));
    }

    [Fact]
    public void ATooShortBlockTable_IsRejected() =>
        Assert.Throws<ArgumentException>(() => MlaDecode.ValidateBatch([0, 1, 2], [64, 64], 2, 2, 4));

    [Fact]
    public void Flops_CountScoresOver576DimsAndTheSumOver512()
    {
        Assert.Equal(2.0 * 64 * 128 * 4096 * 1088, MlaDecode.Flops(64, 128, 4096));
        Assert.Equal(MlaDecode.LatentDim + MlaDecode.RopeDim, MlaDecode.HeadDim);
    }

    [Fact]
    public void TheSharedMemoryOfOneCta_FitsHopper()
    {
        // Q + two KV pages (64 x 1152 bytes each), P (64 x 64 bf16), row statistics (4 x 64 floats).
        Assert.Equal((3 * 64 * 1152) + (64 * 128) + (4 * 64 * 4), MlaDecode.SharedBytes);
        Assert.True(MlaDecode.SharedBytes <= MoeLaunchConfig.MaxSharedBytes);
    }
}
