using System.Buffers.Binary;

namespace R1Orleans.Checkpoint.Tests;

public class ElementConversionTests
{
    [Theory]
    [InlineData(0x00, 0.0)]
    [InlineData(0x01, 0.001953125)] // 2^-9, the smallest subnormal
    [InlineData(0x07, 0.013671875)] // 7 * 2^-9, the largest subnormal
    [InlineData(0x08, 0.015625)] // 2^-6, the smallest normal
    [InlineData(0x38, 1.0)]
    [InlineData(0x39, 1.125)]
    [InlineData(0x40, 2.0)]
    [InlineData(0x30, 0.5)]
    [InlineData(0x7E, 448.0)]
    [InlineData(0x7D, 416.0)]
    [InlineData(0xB8, -1.0)]
    [InlineData(0xFE, -448.0)]
    [InlineData(0x81, -0.001953125)]
    public void Fp8E4M3SpotValues(int code, double expected)
    {
        Assert.Equal((float)expected, ElementConversion.Fp8E4M3ToFloat((byte)code));
        Assert.Equal((float)expected, ElementConversion.Fp8E4M3Table[code]);
    }

    [Fact]
    public void Fp8E4M3NaNAndSignedZero()
    {
        Assert.True(float.IsNaN(ElementConversion.Fp8E4M3ToFloat(0x7F)));
        Assert.True(float.IsNaN(ElementConversion.Fp8E4M3ToFloat(0xFF)));
        float negZero = ElementConversion.Fp8E4M3ToFloat(0x80);
        Assert.Equal(0f, negZero);
        Assert.True(float.IsNegative(negZero));

        // E4M3 "fn" has no infinities: only 0x7F/0xFF are NaN and every other code is finite.
        Assert.Equal(254, Enumerable.Range(0, 256).Count(b => float.IsFinite(ElementConversion.Fp8E4M3ToFloat((byte)b))));
    }

    [Fact]
    public void Fp8TableIsMonotoneOnPositiveCodes()
    {
        for (int b = 1; b < 0x7F; b++)
        {
            Assert.True(ElementConversion.Fp8E4M3ToFloat((byte)b) > ElementConversion.Fp8E4M3ToFloat((byte)(b - 1)), $"code {b:X2}");
            Assert.Equal(-ElementConversion.Fp8E4M3ToFloat((byte)b), ElementConversion.Fp8E4M3ToFloat((byte)(b | 0x80)));
        }
    }

    [Fact]
    public void Fp8EncodeDecodeRoundTripsEveryNonNaNCode()
    {
        for (int b = 0; b < 256; b++)
        {
            if (b is 0x7F or 0xFF)
            {
                continue;
            }

            float v = ElementConversion.Fp8E4M3ToFloat((byte)b);
            Assert.Equal(b, ElementEncoding.FloatToFp8E4M3(v));
        }

        Assert.Equal(0x7F, ElementEncoding.FloatToFp8E4M3(float.NaN));
    }

    [Theory]
    [InlineData(1.0625f, 0x38)] // halfway between 1.0 (even) and 1.125: to even
    [InlineData(1.1875f, 0x3A)] // halfway between 1.125 and 1.25 (even): to even
    [InlineData(1.0626f, 0x39)] // just above halfway: up
    [InlineData(0.0009765625f, 0x00)] // 2^-10, halfway between 0 and 2^-9: to even (0)
    [InlineData(0.0029296875f, 0x02)] // 3 * 2^-10: halfway between codes 1 and 2: to even (2)
    [InlineData(0.0146484375f, 0x08)] // halfway between the largest subnormal and 2^-6: to even (code 8)
    [InlineData(464f, 0x7E)] // saturates rather than producing NaN
    [InlineData(1e9f, 0x7E)]
    [InlineData(float.PositiveInfinity, 0x7E)]
    [InlineData(-1e9f, 0xFE)]
    [InlineData(-0.0f, 0x80)]
    [InlineData(1e-12f, 0x00)]
    [InlineData(240f, 0x77)] // 1.875 * 2^7
    [InlineData(247f, 0x77)] // rounds down to 240
    [InlineData(248f, 0x78)] // halfway 240 / 256: to even (256 = 0x78)
    public void Fp8EncodeRoundsToNearestEvenAndSaturates(float value, int code)
    {
        Assert.Equal(code, ElementEncoding.FloatToFp8E4M3(value));
    }

    [Theory]
    [InlineData(0x3F80, 1.0f)]
    [InlineData(0xBF80, -1.0f)]
    [InlineData(0x4000, 2.0f)]
    [InlineData(0x3F00, 0.5f)]
    [InlineData(0x4049, 3.140625f)]
    [InlineData(0x0000, 0.0f)]
    [InlineData(0x7F7F, 3.3895314e38f)] // the largest finite BF16
    public void BFloat16Decode(int bits, float expected)
    {
        Assert.Equal(expected, ElementConversion.BFloat16ToFloat((ushort)bits));
    }

    [Fact]
    public void BFloat16DecodeSpecials()
    {
        Assert.Equal(float.PositiveInfinity, ElementConversion.BFloat16ToFloat(0x7F80));
        Assert.Equal(float.NegativeInfinity, ElementConversion.BFloat16ToFloat(0xFF80));
        Assert.True(float.IsNaN(ElementConversion.BFloat16ToFloat(0x7FC0)));
        Assert.Equal(MathF.Pow(2, -133), ElementConversion.BFloat16ToFloat(0x0001)); // the smallest subnormal
    }

    [Theory]
    [InlineData(1.0f, 0x3F80)]
    [InlineData(1.00390625f, 0x3F80)] // 1 + 2^-8: halfway, to even (down)
    [InlineData(1.01171875f, 0x3F82)] // 1 + 3 * 2^-8: halfway, to even (up)
    [InlineData(1.0040f, 0x3F81)] // above halfway: up
    [InlineData(1.0039f, 0x3F80)] // below halfway: down
    [InlineData(-2.0f, 0xC000)]
    [InlineData(3.14159265f, 0x4049)]
    [InlineData(float.MaxValue, 0x7F80)] // rounds past the largest BF16 to infinity, as RNE does
    [InlineData(float.PositiveInfinity, 0x7F80)]
    [InlineData(-0.0f, 0x8000)]
    public void BFloat16EncodeRoundsToNearestEven(float value, int bits)
    {
        Assert.Equal(bits, ElementEncoding.FloatToBFloat16(value));
    }

    [Fact]
    public void BFloat16EncodeKeepsNaN()
    {
        Assert.True(float.IsNaN(ElementConversion.BFloat16ToFloat(ElementEncoding.FloatToBFloat16(float.NaN))));
        // A NaN whose payload sits only in the low 16 bits must not truncate to infinity.
        float lowPayloadNaN = BitConverter.UInt32BitsToSingle(0x7F800001);
        Assert.True(float.IsNaN(ElementConversion.BFloat16ToFloat(ElementEncoding.FloatToBFloat16(lowPayloadNaN))));
    }

    [Fact]
    public void BFloat16RoundTripsEveryNonNaNPattern()
    {
        for (int bits = 0; bits < 0x10000; bits++)
        {
            float v = ElementConversion.BFloat16ToFloat((ushort)bits);
            if (!float.IsNaN(v))
            {
                Assert.Equal(bits, ElementEncoding.FloatToBFloat16(v));
            }
        }
    }

    [Fact]
    public void BFloat16EncodeMatchesExactNearestOnRandomValues()
    {
        var rng = new Random(5);
        for (int i = 0; i < 20000; i++)
        {
            float v = (float)((rng.NextDouble() - 0.5) * Math.Pow(2, rng.Next(-40, 40)));
            ushort b = ElementEncoding.FloatToBFloat16(v);
            double got = ElementConversion.BFloat16ToFloat(b);
            double down = ElementConversion.BFloat16ToFloat((ushort)(b - 1));
            double up = ElementConversion.BFloat16ToFloat((ushort)(b + 1));
            Assert.True(Math.Abs(got - v) <= Math.Abs(down - v) && Math.Abs(got - v) <= Math.Abs(up - v), $"{v} -> {b:X4}");
        }
    }

    [Fact]
    public void EncodeThenToFloat32RoundTripsEachFloatType()
    {
        float[] values = [0f, 1f, -2.5f, 0.1f, 1000.25f, -3.0e-3f, 65504f];
        foreach (DType dtype in new[] { DType.F32, DType.F64, DType.BF16, DType.F16, DType.F8_E4M3 })
        {
            byte[] bytes = new byte[values.Length * dtype.ByteSize()];
            ElementEncoding.Encode(dtype, values, bytes);
            var info = new TensorInfo("t", dtype, [values.Length], 0, bytes.Length);
            float[] back = new float[values.Length];
            ElementConversion.ToFloat32("mem", info, bytes, back);
            for (int i = 0; i < values.Length; i++)
            {
                float expected = dtype switch
                {
                    DType.BF16 => ElementConversion.BFloat16ToFloat(ElementEncoding.FloatToBFloat16(values[i])),
                    DType.F16 => (float)(Half)values[i],
                    DType.F8_E4M3 => ElementConversion.Fp8E4M3ToFloat(ElementEncoding.FloatToFp8E4M3(values[i])),
                    _ => values[i],
                };
                Assert.Equal(expected, back[i]);
            }
        }
    }

    [Fact]
    public void Int64RoundTripAndIntegerTypesAreNotFloats()
    {
        long[] values = [0, -1, long.MaxValue, long.MinValue, 123456789012345];
        byte[] bytes = new byte[values.Length * 8];
        ElementEncoding.EncodeInt64(values, bytes);
        Assert.Equal(-1L, BinaryPrimitives.ReadInt64LittleEndian(bytes.AsSpan(8)));
        var info = new TensorInfo("ids", DType.I64, [values.Length], 0, bytes.Length);
        Assert.Equal(values, ElementConversion.ToInt64("mem", info, bytes));

        CheckpointFormatException e = Assert.Throws<CheckpointFormatException>(() => ElementConversion.ToFloat32("mem", info, bytes, new float[values.Length]));
        Assert.Equal("ids", e.Tensor);
        Assert.Throws<ArgumentException>(() => ElementEncoding.Encode(DType.I64, [1f], new byte[8]));
    }

    [Fact]
    public void Bf16_vector_conversion_equals_the_scalar_one_at_every_length_and_offset()
    {
        // Lengths 0..256 and an odd byte offset reach every vector width's tail and unaligned loads.
        var rng = new Random(11);
        byte[] source = new byte[(2 * 256) + 1];
        rng.NextBytes(source);
        BinaryPrimitives.WriteUInt16LittleEndian(source.AsSpan(3), 0x7FC1); // NaN with a payload
        BinaryPrimitives.WriteUInt16LittleEndian(source.AsSpan(9), 0xFF80); // -Inf
        foreach (int offset in new[] { 0, 1 })
        {
            for (int n = 0; n <= 256; n++)
            {
                ReadOnlySpan<byte> bytes = source.AsSpan(offset, 2 * n);
                float[] got = new float[n];
                ElementConversion.ToFloat32(DType.BF16, bytes, got);
                for (int i = 0; i < n; i++)
                {
                    float want = ElementConversion.BFloat16ToFloat(BinaryPrimitives.ReadUInt16LittleEndian(bytes[(2 * i)..]));
                    Assert.Equal(BitConverter.SingleToInt32Bits(want), BitConverter.SingleToInt32Bits(got[i]));
                }
            }
        }
    }

    [Fact]
    public void Chunk_conversion_rejects_too_few_bytes_and_integer_types()
    {
        Assert.Throws<ArgumentException>(() => ElementConversion.ToFloat32(DType.BF16, new byte[5], new float[3]));
        Assert.Throws<ArgumentException>(() => ElementConversion.ToFloat32(DType.I32, new byte[4], new float[1]));
    }
}
