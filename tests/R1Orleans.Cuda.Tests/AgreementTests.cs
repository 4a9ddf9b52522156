using R1Orleans.GpuCheck;

namespace R1Orleans.Cuda.Tests;

public class AgreementTests
{
    [Fact]
    public void ANaNOutput_NeverPasses_EvenWithAHugeTolerance()
    {
        Agreement a = Agreement.Of([1f, float.NaN, 3f], [1f, 2f, 3f]);
        Assert.Equal(1, a.NonFinite);
        Assert.False(a.Passes(1e9));
    }

    [Fact]
    public void RelativeL2_IsTheNormOfTheDifferenceOverTheNormOfTheReference()
    {
        Agreement a = Agreement.Of([3f, 4.5f], [3f, 4f]);
        Assert.Equal(0.5 / 5.0, a.RelativeL2, 12);
        Assert.Equal(0.5, a.MaxAbsDifference, 12);
        Assert.True(a.Passes(0.1));
        Assert.False(a.Passes(0.099));
    }

    [Fact]
    public void IdenticalOutputs_PassAZeroTolerance() =>
        Assert.True(Agreement.Of([1f, -2f], [1f, -2f]).Passes(0));

    [Fact]
    public void RoutingDraws_AreDistinctPerToken_AndWeightsSumToOne()
    {
        (int[] ids, float[] w) = Rng.Routing(new Random(1), tokens: 50, topK: 8, experts: 256);
        for (int t = 0; t < 50; t++)
        {
            Assert.Equal(8, ids.Skip(t * 8).Take(8).Distinct().Count());
            Assert.Equal(1f, w.Skip(t * 8).Take(8).Sum(), 5);
        }
    }
}
