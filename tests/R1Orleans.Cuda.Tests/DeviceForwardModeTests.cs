using R1Orleans.Cuda.Forward;
using Xunit;

namespace R1Orleans.Cuda.Tests;

public class DeviceForwardModeTests
{
    [Theory]
    [InlineData(null, DeviceForwardMode.Exact)]
    [InlineData("", DeviceForwardMode.Exact)]
    [InlineData("1", DeviceForwardMode.Exact)]
    [InlineData("fast", DeviceForwardMode.Fast)]
    [InlineData("0", DeviceForwardMode.PerOp)]
    public void TheDeviceForwardIsTheDefaultAndZeroRunsOpByOp(string? value, DeviceForwardMode expected) =>
        Assert.Equal(expected, DeviceForwardModes.Parse(value, "R1ORLEANS_DEVICE_FORWARD"));

    [Theory]
    [InlineData("yes")]
    [InlineData("FAST")]
    [InlineData("2")]
    public void AnyOtherValueIsRefusedNamingTheValuesTaken(string value)
    {
        var e = Assert.Throws<ArgumentException>(() => DeviceForwardModes.Parse(value, "R1ORLEANS_DEVICE_FORWARD"));
        Assert.Contains($"R1ORLEANS_DEVICE_FORWARD='{value}'", e.Message, StringComparison.Ordinal);
        Assert.Contains("fast", e.Message, StringComparison.Ordinal);
    }
}
