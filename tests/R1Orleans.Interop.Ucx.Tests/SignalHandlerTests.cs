using System.Diagnostics;
using R1Orleans.Interop.Ucx.TestPeer;

namespace R1Orleans.Interop.Ucx.Tests;

/// <summary>UCX loaded into a .NET process must leave the runtime its own fault handling.</summary>
public sealed class SignalHandlerTests
{
    [Fact]
    public async Task A_managed_null_dereference_after_ucx_is_up_stays_a_NullReferenceException()
    {
        // In a child process (a crash must not take this test host down), with UCX's own settings left to this library.
        var info = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add(typeof(ChildPeer).Assembly.Location);
        info.ArgumentList.Add("null-after-init");
        info.Environment.Remove("UCX_ERROR_SIGNALS");
        info.Environment.Remove("UCX_HANDLE_ERRORS");
        using Process process = Process.Start(info) ?? throw new InvalidOperationException("could not start the test peer");
        Task<string> stdout = process.StandardOutput.ReadToEndAsync();
        Task<string> stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill();
            Assert.Fail("the test peer did not finish within 60 s");
        }

        string output = await stdout + await stderr;
        Assert.True(process.ExitCode == 0, $"exit code {process.ExitCode}: {output}");
        Assert.Contains("caught NullReferenceException", output, StringComparison.Ordinal);
        Assert.DoesNotContain("Caught signal", output, StringComparison.Ordinal);
    }
}
