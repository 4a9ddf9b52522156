using R1Orleans.Cuda.Forward;

namespace R1Orleans.Cuda.Tests;

public class StepPlanTests
{
    private const int Vocab = 100;

    [Fact]
    public void Rows_carry_their_token_position_sequence_and_paged_slot_in_batch_order()
    {
        StepPlan plan = StepPlan.Build(
            [new StepSequence([5, 6, 7], 2, [3, 1]), new StepSequence([9], 0, [0])],
            blockSize: 4, blocks: 8, tableWidth: 3, vocab: Vocab);

        Assert.Equal([5, 6, 7, 9], plan.Tokens);
        Assert.Equal([2, 3, 4, 0], plan.Positions);
        Assert.Equal([0, 0, 0, 1], plan.RowSequence);

        // position p of a sequence sits at block table[p / 4], row p % 4: 3*4+2, 3*4+3, 1*4+0, 0*4+0
        Assert.Equal([14, 15, 4, 0], plan.Slots);
        Assert.Equal([3, 1, 0, 0, 0, 0], plan.Tables);
        Assert.Equal(2, plan.Sequences);
        Assert.Equal(4, plan.Rows);
    }

    [Fact]
    public void A_step_of_one_row_per_sequence_is_a_decode_step_and_one_with_a_longer_sequence_is_not()
    {
        StepPlan decode = StepPlan.Build([new StepSequence([5], 6, [3, 1]), new StepSequence([9], 0, [0])], 4, 8, 3, Vocab);
        StepPlan prefill = StepPlan.Build([new StepSequence([5, 6], 2, [3]), new StepSequence([9], 0, [0])], 4, 8, 3, Vocab);

        Assert.True(DeviceForward.IsDecode(decode));
        Assert.False(DeviceForward.IsDecode(prefill));
    }

    [Fact]
    public void A_table_that_does_not_reach_the_last_position_is_refused()
    {
        var e = Assert.Throws<ArgumentException>(() => StepPlan.Build([new StepSequence([1, 2], 3, [0])], 4, 8, 2, Vocab));
        Assert.Contains("need 2 blocks", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_block_outside_the_pool_is_refused()
    {
        var e = Assert.Throws<ArgumentException>(() => StepPlan.Build([new StepSequence([1], 0, [8])], 4, 8, 2, Vocab));
        Assert.Contains("outside the pool of 8 blocks", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_token_outside_the_vocabulary_is_refused()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => StepPlan.Build([new StepSequence([Vocab], 0, [0])], 4, 8, 2, Vocab));
        Assert.Contains("outside the vocabulary", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_table_wider_than_the_step_allows_is_refused()
    {
        Assert.Throws<ArgumentException>(() => StepPlan.Build([new StepSequence([1], 0, [0, 1, 2])], 4, 8, 2, Vocab));
    }

    [Fact]
    public void A_sequence_without_tokens_or_at_a_negative_position_is_refused()
    {
        Assert.Throws<ArgumentException>(() => StepPlan.Build([new StepSequence([], 0, [0])], 4, 8, 2, Vocab));
        Assert.Throws<ArgumentException>(() => StepPlan.Build([new StepSequence([1], -1, [0])], 4, 8, 2, Vocab));
    }
}
