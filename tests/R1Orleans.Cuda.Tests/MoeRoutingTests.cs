namespace R1Orleans.Cuda.Tests;

public class MoeRoutingTests
{
    [Fact]
    public void AValidRouting_IsAccepted() =>
        MoeFp8Experts.ValidateRouting([0, 5, 7, 1, 2, 3], tokens: 2, topK: 3, experts: 8);

    [Fact]
    public void AnExpertOutsideTheLayer_IsRejectedNamingTokenAndSlot()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => MoeFp8Experts.ValidateRouting([0, 5, 7, 1, 8, 3], 2, 3, 8));
        Assert.Contains("token 1 slot 1: expert 8", e.Message);
    }

    [Fact]
    public void AnExpertTwiceForOneToken_IsRejected()
    {
        var e = Assert.Throws<ArgumentException>(() => MoeFp8Experts.ValidateRouting([0, 5, 0], 1, 3, 8));
        Assert.Contains("token 0 routes to expert 0 twice", e.Message);
    }

    [Fact]
    public void ARoutingOfTheWrongLength_IsRejected() =>
        Assert.Throws<ArgumentException>(() => MoeFp8Experts.ValidateRouting([0, 1, 2], 2, 3, 8));

    [Theory]
    [InlineData(1)]
    [InlineData(16)]
    [InlineData(64)]
    [InlineData(256)]
    public void DefaultLaunchConfigs_UseSupportedTileAndWarpCounts(int tokens)
    {
        MoeLaunchConfig c = MoeLaunchConfig.ForTokens(tokens);
        Assert.Contains(c.TokenTiles, new[] { 1, 2, 4 });
        Assert.Contains(c.Warps, new[] { 4, 8 });
        Assert.InRange(c.Splits, 1, 14);
    }
}
