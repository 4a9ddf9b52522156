using R1Orleans.Client.Benchmarks;
using Xunit;

namespace R1Orleans.Client.Tests;

public sealed class HardwareCeilingTests
{
    [Fact]
    public void ADevicesCeilingIsItsCopyBandwidthAloneSoFlopFloorsCountAsZero()
    {
        HardwareCeiling gpu = HardwareCeiling.ForDevice(3.0e12);
        Assert.False(gpu.HasMatrixRate);
        Assert.Equal(3.0e12, gpu.ReadBytesPerSecond);
        // The decode floor max(bytes / bandwidth, FLOPs / rate) is then the bytes' alone, whatever the FLOPs.
        Assert.Equal(1e-3, Math.Max(3.0e9 / gpu.ReadBytesPerSecond, 5e15 / gpu.FlopsPerSecond), 12);
    }

    [Fact]
    public void AMeasuredCeilingHasAMatrixRate() =>
        Assert.True(new HardwareCeiling(1e10, 1e11, 2).HasMatrixRate);
}
