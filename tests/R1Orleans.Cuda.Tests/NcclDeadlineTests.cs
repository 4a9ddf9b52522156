using R1Orleans.Cuda.Nccl;

namespace R1Orleans.Cuda.Tests;

public class NcclDeadlineTests
{
    private const int InProgress = 7;

    [Fact]
    public void A_call_that_completes_returns_without_aborting()
    {
        var statuses = new Queue<int>([InProgress, InProgress, 0]);
        int aborts = 0;

        NcclDeadline.Wait(statuses.Dequeue, TimeSpan.FromMinutes(1), "g3/rank1", "layer 5 dispatch", "ncclGroupEnd", () => aborts++);

        Assert.Empty(statuses);
        Assert.Equal(0, aborts);
    }

    [Fact]
    public void An_asynchronous_error_throws_naming_the_call_the_step_and_the_communicator()
    {
        var statuses = new Queue<int>([InProgress, 6]);
        int aborts = 0;

        NcclException e = Assert.Throws<NcclException>(() =>
            NcclDeadline.Wait(statuses.Dequeue, TimeSpan.FromMinutes(1), "g3/rank1", "layer 5 dispatch", "ncclGroupEnd", () => aborts++));

        Assert.StartsWith("ncclGroupEnd (layer 5 dispatch on g3/rank1) failed: ncclRemoteError (6)", e.Message, StringComparison.Ordinal);
        Assert.Equal(6, e.Status);
        Assert.Equal(0, aborts);
    }

    [Fact]
    public void A_wait_past_its_deadline_aborts_the_communicator_and_names_it_and_the_step()
    {
        int polls = 0, aborts = 0;

        NcclTimeoutException e = Assert.Throws<NcclTimeoutException>(() =>
            NcclDeadline.Wait(() => { polls++; return InProgress; }, TimeSpan.Zero, "g7/rank0", "layer 3 combine", "ncclGroupEnd", () => aborts++));

        Assert.Equal(1, polls);
        Assert.Equal(1, aborts);
        Assert.Equal("g7/rank0", e.Communicator);
        Assert.Equal("layer 3 combine", e.Step);
        Assert.Contains("NCCL communicator g7/rank0: layer 3 combine did not complete within 0 ms; the communicator was aborted", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_call_already_done_passes_even_with_a_zero_deadline()
    {
        int aborts = 0;
        NcclDeadline.Wait(() => 0, TimeSpan.Zero, "g1/rank0", "init", "ncclCommInitRankConfig", () => aborts++);
        Assert.Equal(0, aborts);
    }
}
