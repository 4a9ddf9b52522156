using R1Orleans.Client.Chaos;

namespace R1Orleans.Client.Tests.Chaos;

/// <summary>A process the harness started says how it ended: its exit code or the signal that killed it, and its last output.</summary>
public sealed class ChildProcessTests
{
    [Fact]
    public Task An_exited_process_is_described_by_its_exit_code_and_the_last_line_it_wrote() =>
        AfterExitAsync("echo the port is taken >&2; exit 3", async p =>
        {
            string said = await p.DescribeExitAsync();
            Assert.StartsWith("exit code 3; its log (", said, StringComparison.Ordinal);
            Assert.EndsWith("the port is taken", said.TrimEnd('\n'), StringComparison.Ordinal);
            Assert.True(p.Logged("PORT IS TAKEN"));
            Assert.False(p.Logged("not written"));
        });

    [Fact]
    public Task A_process_killed_by_a_signal_is_described_by_the_signal() =>
        AfterExitAsync("kill -9 $$", async p =>
            Assert.StartsWith("exit code 137: killed by signal 9; its log (", await p.DescribeExitAsync(), StringComparison.Ordinal));

    [Fact]
    public async Task A_process_started_again_on_the_same_log_reads_only_its_own_part_of_it()
    {
        string log = Path.GetTempFileName();
        try
        {
            await using (ChildProcess first = ChildProcess.Start("t", "/bin/sh", ["-c", "echo the port is taken; exit 2"], log))
            {
                await WaitExitedAsync(first);
                Assert.EndsWith("the port is taken", (await first.DescribeExitAsync()).TrimEnd('\n'), StringComparison.Ordinal);
            }

            await using ChildProcess second = ChildProcess.Start("t", "/bin/sh", ["-c", "echo listening; exit 1"], log);
            await WaitExitedAsync(second);
            string said = await second.DescribeExitAsync();
            Assert.False(second.Logged("the port is taken"));
            Assert.DoesNotContain("the port is taken", said, StringComparison.Ordinal);
            Assert.Contains("exit 2", File.ReadAllText(log), StringComparison.Ordinal);
            Assert.EndsWith("listening", said.TrimEnd('\n'), StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(log);
        }
    }

    /// <summary>Runs <paramref name="script"/> under sh, waits until <see cref="ChildProcess.HasExited"/>, then checks it.</summary>
    private static async Task AfterExitAsync(string script, Func<ChildProcess, Task> check)
    {
        string log = Path.GetTempFileName();
        try
        {
            await using ChildProcess p = ChildProcess.Start("t", "/bin/sh", ["-c", script], log);
            await WaitExitedAsync(p);
            await check(p);
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
