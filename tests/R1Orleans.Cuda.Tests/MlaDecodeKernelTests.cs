namespace R1Orleans.Cuda.Tests;

public class MlaDecodeKernelTests
{
    [Fact]
    public void Wgmma_RunsOnlyOnComputeCapability90()
    {
        Assert.True(MlaDecodeKernels.Supports(MlaDecodeKernel.Wgmma, new ComputeCapability(9, 0)));
        Assert.False(MlaDecodeKernels.Supports(MlaDecodeKernel.Wgmma, new ComputeCapability(8, 9)));
        Assert.False(MlaDecodeKernels.Supports(MlaDecodeKernel.Wgmma, new ComputeCapability(10, 0)));
    }

    [Fact]
    public void Mma_RunsFromAmpereOn()
    {
        Assert.True(MlaDecodeKernels.Supports(MlaDecodeKernel.Mma, new ComputeCapability(8, 0)));
        Assert.True(MlaDecodeKernels.Supports(MlaDecodeKernel.Mma, new ComputeCapability(9, 0)));
        Assert.False(MlaDecodeKernels.Supports(MlaDecodeKernel.Mma, new ComputeCapability(7, 5)));
    }

    [Fact]
    public void AskingForWgmmaOnAnAda_IsRefusedNamingTheCapability()
    {
        var e = Assert.Throws<ArgumentException>(() => MlaDecodeKernels.Require(MlaDecodeKernel.Wgmma, new ComputeCapability(8, 9)));
        Assert.Contains("9.0", e.Message);
        Assert.Contains("8.9", e.Message);
    }

    [Fact]
    public void EveryDevice_DefaultsToAKernelItSupports()
    {
        foreach (ComputeCapability c in new[] { new ComputeCapability(8, 0), new ComputeCapability(9, 0), new ComputeCapability(10, 0) })
        {
            Assert.True(MlaDecodeKernels.Supports(MlaDecodeKernels.DefaultFor(c), c));
        }
    }
}
