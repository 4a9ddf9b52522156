using R1Orleans.Placement;

namespace R1Orleans.Placement.Tests;

public sealed class RankPickerTests
{
    [Fact]
    public void The_least_loaded_rank_is_picked()
    {
        RankCandidate[] ranks = [new("a", 3, 1, 8, true), new("b", 1, 0, 8, false), new("c", 2, 0, 8, false)];
        Assert.Equal(1, RankPicker.Pick(ranks, 1, 4));
    }

    [Fact]
    public void A_tie_goes_to_the_local_rank_then_to_the_first_listed()
    {
        RankCandidate[] localLast = [new("a", 1, 0, 8, false), new("b", 1, 0, 8, false), new("c", 1, 0, 8, true)];
        Assert.Equal(2, RankPicker.Pick(localLast, 1, 4));
        RankCandidate[] noLocal = [new("a", 2, 0, 8, false), new("b", 1, 0, 8, false), new("c", 1, 0, 8, false)];
        Assert.Equal(1, RankPicker.Pick(noLocal, 1, 4));
    }

    [Fact]
    public void A_rank_without_room_for_every_choice_is_passed_over_and_none_with_room_gives_minus_one()
    {
        // Room: running + waiting + n <= maxWaiting + MaxNumSeqs (2 + 4 = 6).
        RankCandidate[] ranks = [new("a", 4, 0, 4, true), new("b", 4, 1, 4, false)];
        Assert.Equal(0, RankPicker.Pick(ranks, 2, 2));
        Assert.Equal(-1, RankPicker.Pick(ranks, 3, 2));
        Assert.Equal(-1, RankPicker.Pick([], 1, 2));
    }

    [Fact]
    public void Consecutive_picks_that_count_their_own_requests_spread_over_every_rank()
    {
        RankCandidate[] ranks = [new("a", 0, 0, 8, true), new("b", 0, 0, 8, false), new("c", 0, 0, 8, false)];
        int[] counts = new int[3];
        for (int i = 0; i < 9; i++)
        {
            int k = RankPicker.Pick(ranks, 1, 4);
            counts[k]++;
            ranks[k] = ranks[k] with { Waiting = ranks[k].Waiting + 1 };
        }

        Assert.Equal([3, 3, 3], counts);
    }
}
