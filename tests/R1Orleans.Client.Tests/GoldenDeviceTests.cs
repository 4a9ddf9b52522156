using System.Diagnostics;
using System.Runtime.InteropServices;

namespace R1Orleans.Client.Tests;

/// <summary>`r1 golden --device`: cpu or cuda:N; a CUDA device that cannot be opened fails before any case is read.</summary>
public sealed class GoldenDeviceTests
{
    [Fact]
    public void Golden_on_cuda_without_a_driver_exits_2_within_seconds_saying_what_to_install()
    {
        // On a machine with the driver (the GPU machine), an ordinal past the last device takes the same path.
        bool driver = NativeLibrary.TryLoad("libcuda.so.1", out nint handle);
        if (driver)
        {
            NativeLibrary.Free(handle);
        }

        string device = driver ? "cuda:99" : "cuda:0";
        string empty = Directory.CreateTempSubdirectory("r1-golden-device-").FullName;
        try
        {
            using var error = new StringWriter();
            var clock = Stopwatch.StartNew();
            int code = GoldenCommand.Run([empty], threads: 1, device: device, error: error);

            Assert.Equal(2, code);
            string message = error.ToString();
            Assert.Contains(
                driver ? "error: --device cuda:99: cuda:99 does not exist" : "error: --device cuda:0: no CUDA driver was found (libcuda.so.1); install the NVIDIA driver",
                message,
                StringComparison.Ordinal);

            // The device is opened first: the empty directory was never looked at.
            Assert.DoesNotContain(empty, message, StringComparison.Ordinal);
        }
        finally
        {
            Directory.Delete(empty);
        }
    }

    [Theory]
    [InlineData("gpu")]
    [InlineData("cuda:")]
    [InlineData("cuda:1x")]
    public void Golden_with_a_device_that_is_neither_cpu_nor_cuda_N_exits_2(string device)
    {
        using var error = new StringWriter();
        int code = GoldenCommand.Run(["/nonexistent"], threads: 1, device: device, error: error);
        Assert.Equal(2, code);
        Assert.Contains($"error: --device '{device}' is not cpu or cuda:N", error.ToString(), StringComparison.Ordinal);
    }
}
