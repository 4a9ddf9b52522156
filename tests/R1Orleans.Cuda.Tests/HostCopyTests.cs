using Xunit;

namespace R1Orleans.Cuda.Tests;

public class HostCopyTests
{
    [Theory]
    [InlineData(0, 4)]
    [InlineData(3, 4)]
    [InlineData(16, 4)]
    [InlineData(17, 4)]
    [InlineData(1000, 7)]
    public void CopiesEveryValueOnceWhateverTheSlicing(int length, int slice)
    {
        float[] source = [.. Enumerable.Range(0, length).Select(i => (i * 0.5f) - 3f)];
        float[] destination = new float[length + 2];
        destination[^1] = destination[^2] = float.NaN;
        HostCopy.Copy(source, destination.AsSpan(0, length), slice);
        Assert.Equal(source, destination[..length]);
        Assert.True(float.IsNaN(destination[^1]) && float.IsNaN(destination[^2]), "nothing written past the destination");
    }

    [Fact]
    public void RefusesSpansOfDifferentLengths() =>
        Assert.Throws<ArgumentException>(() => HostCopy.Copy(new float[5], new float[4]));
}
