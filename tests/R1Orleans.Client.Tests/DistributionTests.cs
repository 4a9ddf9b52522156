using R1Orleans.Client.Http;

namespace R1Orleans.Client.Tests;

public class DistributionTests
{
    private static readonly double[] s_oneToTen = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];

    [Theory]
    [InlineData(0, 1)]
    [InlineData(50, 5.5)]
    [InlineData(90, 9.1)]
    [InlineData(99, 9.91)]
    [InlineData(100, 10)]
    [InlineData(25, 3.25)]
    public void PercentilesInterpolateLikeNumpy(double p, double expected) => Assert.Equal(expected, Percentile.OfSorted(s_oneToTen, p), 1e-12);

    [Fact]
    public void UnsortedInputAndOtherKnownValues()
    {
        // numpy.percentile([15, 20, 35, 40, 50], [40, 50, 90]) == [29, 35, 46]
        double[] v = [50, 15, 40, 20, 35];
        Assert.Equal(29, Percentile.Of(v, 40), 1e-12);
        Assert.Equal(35, Percentile.Of(v, 50), 1e-12);
        Assert.Equal(46, Percentile.Of(v, 90), 1e-12);
    }

    [Fact]
    public void SummaryOfKnownData()
    {
        Distribution d = Distribution.From(s_oneToTen.Reverse())!;
        Assert.Equal(10, d.Count);
        Assert.Equal(5.5, d.Mean, 1e-12);
        Assert.Equal(Math.Sqrt(82.5 / 9), d.StdDev, 1e-12);
        Assert.Equal((1.0, 5.5, 9.1, 9.91, 10.0), (d.Min, d.P50, d.P90, d.P99, d.Max));
        Distribution ms = d.Scale(1000);
        Assert.Equal(9910, ms.P99, 1e-9);
        Assert.Equal(10, ms.Count);
    }

    [Fact]
    public void SingleValueAndEmpty()
    {
        Distribution one = Distribution.From([4.2])!;
        Assert.Equal((4.2, 4.2, 4.2, 0.0), (one.P50, one.P99, one.Mean, one.StdDev));
        Assert.Null(Distribution.From([]));
        Assert.Throws<ArgumentOutOfRangeException>(() => Percentile.OfSorted([], 50));
        Assert.Throws<ArgumentOutOfRangeException>(() => Percentile.OfSorted(s_oneToTen, 101));
    }
}
