using R1Orleans.Cuda.Nccl;

namespace R1Orleans.Cuda.Tests;

public class NcclStatusTests
{
    [Fact]
    public void Success_passes()
    {
        NcclStatus.Check(0, "ncclGroupEnd");
        Assert.False(NcclStatus.CheckStarted(0, "ncclSend", 0));
    }

    [Fact]
    public void In_progress_is_a_started_call_on_a_non_blocking_communicator_but_a_failure_for_a_blocking_check()
    {
        Assert.True(NcclStatus.CheckStarted(7, "ncclCommInitRankConfig", 0));
        NcclException e = Assert.Throws<NcclException>(() => NcclStatus.Check(7, "ncclGetUniqueId"));
        Assert.StartsWith("ncclGetUniqueId failed: ncclInProgress (7): NCCL operation in progress", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(1, "ncclUnhandledCudaError", "unhandled cuda error")]
    [InlineData(2, "ncclSystemError", "unhandled system error")]
    [InlineData(3, "ncclInternalError", "internal error")]
    [InlineData(4, "ncclInvalidArgument", "invalid argument")]
    [InlineData(5, "ncclInvalidUsage", "invalid usage")]
    [InlineData(6, "ncclRemoteError", "remote process exited or there was a network error")]
    public void Every_error_names_the_call_the_result_and_ncclGetErrorStrings_text(int status, string name, string text)
    {
        NcclException e = Assert.Throws<NcclException>(() => NcclStatus.CheckStarted(status, "ncclSend", 0));

        Assert.StartsWith($"ncclSend failed: {name} ({status}): {text}", e.Message, StringComparison.Ordinal);
        Assert.Equal("ncclSend", e.Call);
        Assert.Equal(status, e.Status);
    }

    [Fact]
    public void An_unknown_result_is_named_by_its_number()
    {
        NcclException e = Assert.Throws<NcclException>(() => NcclStatus.Check(42, "ncclRecv"));
        Assert.StartsWith("ncclRecv failed: ncclResult 42 (42): unknown result code", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_last_error_text_is_appended_when_there_is_one()
    {
        var e = new NcclException("ncclCommInitRankConfig", 2, "ncclSystemError", "unhandled system error", "socket connect to 10.0.0.2 failed");
        Assert.EndsWith("; NCCL's last error: socket connect to 10.0.0.2 failed", e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("last error", new NcclException("ncclSend", 6, "ncclRemoteError", "remote", "").Message, StringComparison.Ordinal);
    }
}
