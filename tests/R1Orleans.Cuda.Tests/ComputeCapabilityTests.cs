namespace R1Orleans.Cuda.Tests;

public class ComputeCapabilityTests
{
    [Theory]
    [InlineData(9, 0, "sm_90a")]
    [InlineData(10, 0, "sm_100a")]
    [InlineData(8, 9, "sm_89")]
    [InlineData(8, 0, "sm_80")]
    [InlineData(7, 5, "sm_75")]
    public void NvrtcArchitecture_IsTheRealArchitecture_WithTheArchSpecificSuffixFromHopperOn(int major, int minor, string expected) =>
        Assert.Equal(expected, new ComputeCapability(major, minor).NvrtcArchitecture);
}
