using R1Orleans.GpuCheck;

namespace R1Orleans.Cuda.Tests;

public class Bf16ConversionTests
{
    [Theory]
    [InlineData(1f, 0x3F80)]
    [InlineData(-2f, 0xC000)]
    [InlineData(1f + (1f / 256), 0x3F80)]       // halfway between 1 and 1 + 2^-7: to the even one, 1
    [InlineData(1f + (3f / 256), 0x3F82)]       // halfway between 1 + 2^-7 and 1 + 2^-6: to the even one, up
    [InlineData(1f + (1.5f / 256), 0x3F81)]     // above halfway: up
    public void FloatToBf16_RoundsToNearestEven(float value, int bits) =>
        Assert.Equal((ushort)bits, MlaDecodeReference.FloatToBf16(value));

    [Fact]
    public void Bf16_RoundTripsExactly_AndNaNStaysNaN()
    {
        Assert.Equal(-0.375f, MlaDecodeReference.Bf16ToFloat(MlaDecodeReference.FloatToBf16(-0.375f)));
        Assert.True(float.IsNaN(MlaDecodeReference.Bf16ToFloat(MlaDecodeReference.FloatToBf16(float.NaN))));
        Assert.True(float.IsNaN(MlaDecodeReference.Bf16ToFloat(MlaDecodeCheck.NaNBf16)));
    }
}
