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
    public void DefaultLaunchConfigs_AreCompiledVariants_ThatFitSharedMemory(int tokens)
    {
        MoeLaunchConfig c = MoeLaunchConfig.ForTokens(tokens);
        Assert.True(c.IsSupported, c.ToString());
        Assert.InRange(c.SharedBytes, 0, MoeLaunchConfig.MaxSharedBytes);
    }

    [Fact]
    public void TheSharedMemoryRing_HoldsWeightsAndTokensOfEveryStageOfEveryWarp()
    {
        // 4 warps x 4 stages x (4 KB of weights + 2 KB per 8-token tile).
        Assert.Equal(4 * 4 * (4096 + 2048), new MoeLaunchConfig(1, 1, 4, 4, MoeRing.WarpAsync).SharedBytes);
        Assert.Equal(0, new MoeLaunchConfig(1, 1, 4, 2, MoeRing.Registers).SharedBytes);
        // Per CTA: 4 stages x (2 KB per token tile, once + 4 KB of weights per warp).
        Assert.Equal(4 * ((2 * 2048) + (8 * 4096)), new MoeLaunchConfig(1, 2, 8, 4, MoeRing.CtaAsync).SharedBytes);
        Assert.Equal("_shared_nt2_d4", new MoeLaunchConfig(1, 2, 8, 4, MoeRing.CtaAsync).KernelSuffix);
        Assert.False(new MoeLaunchConfig(1, 2, 8, 4, MoeRing.WarpAsync).IsSupported); // 256 KB: over the 227 KB a CTA may have
        Assert.False(new MoeLaunchConfig(1, 1, 4, 5, MoeRing.WarpAsync).IsSupported); // not a compiled variant
        Assert.Equal("_async_nt2_d4", new MoeLaunchConfig(1, 2, 4, 4, MoeRing.WarpAsync).KernelSuffix);
    }
}
