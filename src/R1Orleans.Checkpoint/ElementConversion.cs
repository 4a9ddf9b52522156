using System.Buffers.Binary;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace R1Orleans.Checkpoint;

/// <summary>Converts stored element types to float32 (float64 for exact reference work).</summary>
public static class ElementConversion
{
    /// <summary>FP8 E4M3 (the "fn" variant: no infinities, 0x7F/0xFF are NaN) to float, by table.</summary>
    public static ReadOnlySpan<float> Fp8E4M3Table => s_fp8Table;

    private static readonly float[] s_fp8Table = BuildFp8Table();

    public static float Fp8E4M3ToFloat(byte b) => s_fp8Table[b];

    public static float BFloat16ToFloat(ushort bits) => BitConverter.Int32BitsToSingle(bits << 16);

    public static void ToFloat32(string file, TensorInfo info, ReadOnlySpan<byte> bytes, Span<float> dst)
    {
        long n = info.ElementCount;
        if (dst.Length != n)
        {
            throw new ArgumentException($"destination holds {dst.Length} elements, tensor '{info.Name}' has {n}");
        }

        if (!info.DType.IsFloat())
        {
            throw new CheckpointFormatException(file, info.Name, $"dtype {info.DType.Name()} cannot be read as floating point");
        }

        ToFloat32(info.DType, bytes, dst);
    }

    /// <summary>
    /// Converts dst.Length elements of a floating-point <paramref name="dtype"/> from little-endian
    /// <paramref name="bytes"/> (at least dst.Length × its size). The loader calls this chunk by chunk.
    /// </summary>
    public static void ToFloat32(DType dtype, ReadOnlySpan<byte> bytes, Span<float> dst)
    {
        if (bytes.Length < (long)dst.Length * dtype.ByteSize())
        {
            throw new ArgumentException($"{bytes.Length} bytes hold fewer than {dst.Length} {dtype.Name()} elements", nameof(bytes));
        }

        switch (dtype)
        {
            case DType.F32:
                if (BitConverter.IsLittleEndian)
                {
                    MemoryMarshal.Cast<byte, float>(bytes)[..dst.Length].CopyTo(dst);
                }
                else
                {
                    for (int i = 0; i < dst.Length; i++)
                    {
                        dst[i] = BinaryPrimitives.ReadSingleLittleEndian(bytes[(4 * i)..]);
                    }
                }

                break;
            case DType.F64:
                for (int i = 0; i < dst.Length; i++)
                {
                    dst[i] = (float)BinaryPrimitives.ReadDoubleLittleEndian(bytes[(8 * i)..]);
                }

                break;
            case DType.BF16:
                BFloat16ToFloat32(bytes, dst);
                break;
            case DType.F16:
                for (int i = 0; i < dst.Length; i++)
                {
                    dst[i] = (float)BitConverter.UInt16BitsToHalf(BinaryPrimitives.ReadUInt16LittleEndian(bytes[(2 * i)..]));
                }

                break;
            case DType.F8_E4M3:
                for (int i = 0; i < dst.Length; i++)
                {
                    dst[i] = s_fp8Table[bytes[i]];
                }

                break;
            default:
                throw new ArgumentException($"dtype {dtype.Name()} cannot be read as floating point", nameof(dtype));
        }
    }

    /// <summary>BF16 is the top half of a float32: widen each 16-bit value and shift it up, a vector at a time.</summary>
    private static void BFloat16ToFloat32(ReadOnlySpan<byte> bytes, Span<float> dst)
    {
        int i = 0;
        if (BitConverter.IsLittleEndian)
        {
            ref ushort src = ref MemoryMarshal.GetReference(MemoryMarshal.Cast<byte, ushort>(bytes));
            ref uint to = ref MemoryMarshal.GetReference(MemoryMarshal.Cast<float, uint>(dst));
            if (Vector512.IsHardwareAccelerated)
            {
                for (; i <= dst.Length - Vector512<ushort>.Count; i += Vector512<ushort>.Count)
                {
                    (Vector512<uint> lo, Vector512<uint> hi) = Vector512.Widen(Vector512.LoadUnsafe(ref src, (nuint)i));
                    Vector512.ShiftLeft(lo, 16).StoreUnsafe(ref to, (nuint)i);
                    Vector512.ShiftLeft(hi, 16).StoreUnsafe(ref to, (nuint)(i + Vector512<uint>.Count));
                }
            }

            if (Vector256.IsHardwareAccelerated)
            {
                for (; i <= dst.Length - Vector256<ushort>.Count; i += Vector256<ushort>.Count)
                {
                    (Vector256<uint> lo, Vector256<uint> hi) = Vector256.Widen(Vector256.LoadUnsafe(ref src, (nuint)i));
                    Vector256.ShiftLeft(lo, 16).StoreUnsafe(ref to, (nuint)i);
                    Vector256.ShiftLeft(hi, 16).StoreUnsafe(ref to, (nuint)(i + Vector256<uint>.Count));
                }
            }
        }

        for (; i < dst.Length; i++)
        {
            dst[i] = BFloat16ToFloat(BinaryPrimitives.ReadUInt16LittleEndian(bytes[(2 * i)..]));
        }
    }

    public static long[] ToInt64(string file, TensorInfo info, ReadOnlySpan<byte> bytes)
    {
        var dst = new long[info.ElementCount];
        switch (info.DType)
        {
            case DType.I64:
                for (int i = 0; i < dst.Length; i++)
                {
                    dst[i] = BinaryPrimitives.ReadInt64LittleEndian(bytes[(8 * i)..]);
                }

                break;
            case DType.I32:
                for (int i = 0; i < dst.Length; i++)
                {
                    dst[i] = BinaryPrimitives.ReadInt32LittleEndian(bytes[(4 * i)..]);
                }

                break;
            default:
                throw new CheckpointFormatException(file, info.Name, $"dtype {info.DType.Name()} cannot be read as integers");
        }

        return dst;
    }

    private static float[] BuildFp8Table()
    {
        var table = new float[256];
        for (int b = 0; b < 256; b++)
        {
            int sign = b >> 7;
            int exp = (b >> 3) & 0xF;
            int man = b & 0x7;
            float v;
            if (exp == 0xF && man == 0x7)
            {
                v = float.NaN;
            }
            else if (exp == 0)
            {
                v = man / 8f * MathF.Pow(2, -6);
            }
            else
            {
                v = (1 + (man / 8f)) * MathF.Pow(2, exp - 7);
            }

            table[b] = sign == 1 ? -v : v;
        }

        return table;
    }
}
