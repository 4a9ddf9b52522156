using R1Orleans.Client.Chaos;

namespace R1Orleans.Client.Tests.Chaos;

/// <summary>A process the harness started says how it ended: its exit code or the signal that killed it, and its last output.</summary>
public sealed class ChildProcessTests
{
    [Fact]
    public async Task An_exited_process_is_described_by_its_exit_code_and_the_last_line_it_wrote()
    {
        string log = Path.GetTempFileName();
        try
        {
            await using ChildProcess p = ChildProcess.Start("t", "/bin/sh", ["-c", "echo the port is taken >&2; exit 3"], log);
            await WaitExitedAsync(p);

            string said = await p.DescribeExitAsync();
            Assert.StartsWith("exit code 3; its log (", said, StringComparison.Ordinal);
            Assert.EndsWith("the port is taken", said.TrimEnd('\n'), StringComparison.Ordinal);
            Assert.True(p.Logged("PORT IS TAKEN"));
            Assert.False(p.Logged("not written"));
        }
        finally
        {
            File.Delete(log);
        }
    }

    [Fact]
    public async Task A_process_killed_by_a_signal_is_described_by_the_signal()
    {
        string log = Path.GetTempFileName();
        try
        {
            await using ChildProcess p = ChildProcess.Start("t", "/bin/sh", ["-c", "kill -9 $$"], log);
            await WaitExitedAsync(p);

            Assert.StartsWith("exit code 137: killed by signal 9; its log (", await p.DescribeExitAsync(), StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(log);
        }
    }

    private static async Task WaitExitedAsync(ChildProcess p)
    {
        for (int i = 0; i < 600 && !p.HasExited; i++)
        {
            await Task.Delay(50);
        }

        Assert.True(p.HasExited, "the process did not exit within 30 s");
    }
}
