using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using R1Orleans.Client.Chaos;
using R1Orleans.Silo;

using R1Orleans.Tests.Shared;

namespace R1Orleans.BuiltInModel.Tests;

/// <summary>--device (Model:Device): cpu or cuda:N, checked at start; a CUDA device that cannot be opened stops the silo at once.</summary>
public sealed class SiloDeviceTests
{
    [Fact]
    public async Task Device_cuda_without_a_driver_exits_1_within_seconds_saying_what_to_install_in_a_real_process()
    {
        // On a machine with the driver (the GPU machine), an ordinal past the last device takes the same path.
        bool driver = NativeLibrary.TryLoad("libcuda.so.1", out nint handle);
        if (driver)
        {
            NativeLibrary.Free(handle);
        }

        string device = driver ? "cuda:99" : "cuda:0";
        string silo = Path.Combine(AppContext.BaseDirectory, "r1-silo.dll");
        string dotnet = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host ? host : "dotnet";
        var start = new ProcessStartInfo(dotnet) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        string[] args = [silo, "--device", device, "--urls", "http://127.0.0.1:0", "--silo-port", Port(), "--gateway-port", Port()];
        foreach (string a in args)
        {
            start.ArgumentList.Add(a);
        }

        using Process process = Process.Start(start)!;
        try
        {
            Task<string> stderr = process.StandardError.ReadToEndAsync();
            Task<string> stdout = process.StandardOutput.ReadToEndAsync();
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            await process.WaitForExitAsync(timeout.Token);
            string output = await stdout + await stderr;

            Assert.Equal(1, process.ExitCode);
            if (driver)
            {
                Assert.Contains("r1-silo: --device cuda:99: cuda:99 does not exist", output, StringComparison.Ordinal);
            }
            else
            {
                Assert.Contains("r1-silo: --device cuda:0: no CUDA driver was found (libcuda.so.1); install the NVIDIA driver", output, StringComparison.Ordinal);
            }

            Assert.DoesNotContain("   at ", output, StringComparison.Ordinal);
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }
        }
    }

    [Theory]
    [InlineData("gpu")]
    [InlineData("cuda:x")]
    [InlineData("cuda:-1")]
    public async Task A_device_that_is_neither_cpu_nor_cuda_N_exits_2_naming_the_setting(string device)
    {
        using var error = new StringWriter();
        int code = await SiloHost.RunAsync(["--device", device, "--urls", "http://127.0.0.1:0"], error).WaitAsync(TimeSpan.FromSeconds(60));
        Environment.ExitCode = 0;

        Assert.Equal(2, code);
        Assert.Contains($"Model:Device (--device) is '{device}'; it must be cpu or cuda:N", error.ToString(), StringComparison.Ordinal);
    }

    private static string Port() => LoopbackPorts.Free().ToString(CultureInfo.InvariantCulture);
}
