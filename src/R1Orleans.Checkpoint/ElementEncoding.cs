using System.Buffers.Binary;

namespace R1Orleans.Checkpoint;

/// <summary>
/// Converts float32 values to stored element types, the inverse of <see cref="ElementConversion"/>: BF16 and F16 round
/// to nearest even; FP8 E4M3 ("fn": no infinities) rounds to nearest even and saturates at ±448, NaN becomes 0x7F.
/// </summary>
public static class ElementEncoding
{
    /// <summary>The largest finite FP8 E4M3 value.</summary>
    public const float Fp8E4M3Max = 448f;

    public static ushort FloatToBFloat16(float value)
    {
        uint bits = BitConverter.SingleToUInt32Bits(value);
        if (float.IsNaN(value))
        {
            return (ushort)((bits >> 16) | 0x0040);
        }

        uint lsb = (bits >> 16) & 1;
        return (ushort)((bits + 0x7FFF + lsb) >> 16);
    }

    public static ushort FloatToHalfBits(float value) => BitConverter.HalfToUInt16Bits((Half)value);

    public static byte FloatToFp8E4M3(float value)
    {
        if (float.IsNaN(value))
        {
            return 0x7F;
        }

        byte sign = value < 0 || (value == 0 && float.IsNegative(value)) ? (byte)0x80 : (byte)0;
        double a = Math.Abs((double)value);
        if (a >= Fp8E4M3Max)
        {
            return (byte)(sign | 0x7E);
        }

        const double minNormal = 1.0 / 64;
        if (a < minNormal)
        {
            // Subnormals are multiples of 2^-9; code 8 (rounded up) is exactly the smallest normal 2^-6.
            return (byte)(sign | (int)Math.Round(a * 512, MidpointRounding.ToEven));
        }

        int e = Math.ILogB(a);
        double mantissa = Math.ScaleB(a, -e) - 1;
        int q = (int)Math.Round(mantissa * 8, MidpointRounding.ToEven);
        if (q == 8)
        {
            e++;
            q = 0;
        }

        int code = ((e + 7) << 3) | q;
        return (byte)(sign | Math.Min(code, 0x7E));
    }

    /// <summary>Encodes <paramref name="src"/> as <paramref name="dtype"/> (a float type) into little-endian bytes.</summary>
    public static void Encode(DType dtype, ReadOnlySpan<float> src, Span<byte> dst)
    {
        if (!dtype.IsFloat())
        {
            throw new ArgumentException($"{dtype.Name()} is not a floating-point type", nameof(dtype));
        }

        if (dst.Length != (long)src.Length * dtype.ByteSize())
        {
            throw new ArgumentException($"{src.Length} {dtype.Name()} values need {(long)src.Length * dtype.ByteSize()} bytes, the destination has {dst.Length}");
        }

        switch (dtype)
        {
            case DType.F64:
                for (int i = 0; i < src.Length; i++)
                {
                    BinaryPrimitives.WriteDoubleLittleEndian(dst[(8 * i)..], src[i]);
                }

                break;
            case DType.F32:
                for (int i = 0; i < src.Length; i++)
                {
                    BinaryPrimitives.WriteSingleLittleEndian(dst[(4 * i)..], src[i]);
                }

                break;
            case DType.BF16:
                for (int i = 0; i < src.Length; i++)
                {
                    BinaryPrimitives.WriteUInt16LittleEndian(dst[(2 * i)..], FloatToBFloat16(src[i]));
                }

                break;
            case DType.F16:
                for (int i = 0; i < src.Length; i++)
                {
                    BinaryPrimitives.WriteUInt16LittleEndian(dst[(2 * i)..], FloatToHalfBits(src[i]));
                }

                break;
            default:
                for (int i = 0; i < src.Length; i++)
                {
                    dst[i] = FloatToFp8E4M3(src[i]);
                }

                break;
        }
    }

    public static void EncodeInt64(ReadOnlySpan<long> src, Span<byte> dst)
    {
        if (dst.Length != (long)src.Length * 8)
        {
            throw new ArgumentException($"{src.Length} I64 values need {(long)src.Length * 8} bytes, the destination has {dst.Length}");
        }

        for (int i = 0; i < src.Length; i++)
        {
            BinaryPrimitives.WriteInt64LittleEndian(dst[(8 * i)..], src[i]);
        }
    }
}
