using R1Orleans.Cuda.Forward;

namespace R1Orleans.Cuda.Tests;

public class StepChunksTests
{
    [Fact]
    public void A_batch_larger_than_the_forward_runs_as_consecutive_chunks_cutting_sequences_at_the_next_position()
    {
        int[] t0 = [10, 11, 12, 13, 14], t1 = [20, 21], t2 = [30, 31, 32, 33];
        IReadOnlyList<StepChunk> chunks = StepChunks.Split(
            [new StepSequence(t0, 7, [1, 2]), new StepSequence(t1, 0, [3]), new StepSequence(t2, 3, [4])], maxRows: 4);

        Assert.Equal([0, 4, 8], chunks.Select(c => c.StartRow));
        Assert.Equal([4, 4, 3], chunks.Select(c => c.Rows));

        // chunk 0: the first four tokens of sequence 0 at positions 7..10
        StepSequence a = Assert.Single(chunks[0].Sequences);
        Assert.Equal([10, 11, 12, 13], a.Tokens);
        Assert.Equal(7, a.FirstPosition);

        // chunk 1: sequence 0's last token at position 11, all of sequence 1, sequence 2's first token
        Assert.Equal([[14], [20, 21], [30]], chunks[1].Sequences.Select(s => s.Tokens));
        Assert.Equal([11, 0, 3], chunks[1].Sequences.Select(s => s.FirstPosition));
        Assert.Equal([1, 2], chunks[1].Sequences[0].BlockTable);

        // chunk 2: the rest of sequence 2 from position 4
        StepSequence c = Assert.Single(chunks[2].Sequences);
        Assert.Equal([31, 32, 33], c.Tokens);
        Assert.Equal(4, c.FirstPosition);
    }

    [Fact]
    public void A_batch_that_fits_is_one_chunk_with_its_sequences_as_they_are()
    {
        IReadOnlyList<StepChunk> chunks = StepChunks.Split([new StepSequence([1], 5, [0]), new StepSequence([2], 9, [1])], maxRows: 64);
        StepChunk only = Assert.Single(chunks);
        Assert.Equal(2, only.Rows);
        Assert.Equal([5, 9], only.Sequences.Select(s => s.FirstPosition));
    }
}
