using R1Orleans.Cuda.Forward;
using Xunit;

namespace R1Orleans.Cuda.Tests;

public class DeviceMemoryCheckTests
{
    [Fact]
    public void AModelThatFitsPasses() => DeviceMemoryCheck.Require(39_000_000_000, 79_000_000_000, "NVIDIA H100 80GB HBM3");

    [Fact]
    public void AModelLargerThanTheFreeMemoryIsRefusedBeforeUploadSayingWhatToDo()
    {
        var e = Assert.Throws<InvalidOperationException>(() => DeviceMemoryCheck.Require(690_000_000_000, 139_000_000_000, "NVIDIA H200"));
        Assert.Contains("690.0 GB on NVIDIA H200", e.Message, StringComparison.Ordinal);
        Assert.Contains("139.0 GB are free", e.Message, StringComparison.Ordinal);
        Assert.Contains("several silos", e.Message, StringComparison.Ordinal);
    }
}
