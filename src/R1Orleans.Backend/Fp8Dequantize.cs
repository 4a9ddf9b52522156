using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace R1Orleans.Backend;

/// <summary>
/// Dequantizes rows of an FP8 <see cref="Matrix"/>: dst[c] = e4m3(code[c]) × scale[c / BlockCols], 16 (or 8) codes a
/// step. The e4m3 value is built from its bits (normal: sign | (exp + 120) &lt;&lt; 23 | man &lt;&lt; 20; subnormal and zero:
/// man × 2⁻⁹, both exact; 0x7F/0xFF: NaN), which is exact, so each product is the same float32 multiply of the same two floats as
/// the checkpoint reader's table lookup (Fp8BlockDequantizer.DequantizeRow: table[code] × scale; tests compare every code).
/// </summary>
internal static unsafe class Fp8Dequantize
{
    public static void Row(Matrix m, int r, Span<float> dst)
    {
        fixed (byte* codes = m.Codes)
        fixed (float* scales = m.Scales, d = dst)
        {
            Row(codes + ((long)r * m.Cols), scales + ((long)(r / m.BlockRows) * m.ScaleCols), m.BlockCols, m.Cols, d);
        }
    }

    /// <summary>One row of cols codes with its row of block scales (one per blockCols columns) into dst.</summary>
    public static void Row(byte* codes, float* scales, int blockCols, int cols, float* dst)
    {
        for (int b = 0, start = 0; start < cols; b++, start += blockCols)
        {
            int end = Math.Min(start + blockCols, cols);
            float s = scales[b];
            int j = start;
            if (Avx512F.IsSupported)
            {
                Vector512<float> vs = Vector512.Create(s);
                for (; j + 16 <= end; j += 16)
                {
                    Vector512<int> bits = Avx512F.ConvertToVector512Int32(Vector128.Load(codes + j));
                    (Decode(bits) * vs).Store(dst + j);
                }
            }
            else if (Avx2.IsSupported)
            {
                Vector256<float> vs = Vector256.Create(s);
                for (; j + 8 <= end; j += 8)
                {
                    Vector256<int> bits = Avx2.ConvertToVector256Int32(codes + j);
                    (Decode(bits) * vs).Store(dst + j);
                }
            }

            ReadOnlySpan<float> table = Fp8E4M3.Table;
            for (; j < end; j++)
            {
                dst[j] = table[codes[j]] * s;
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector512<float> Decode(Vector512<int> code)
    {
        Vector512<int> mag = code & Vector512.Create(0x7F);
        Vector512<int> sign = Vector512.ShiftLeft(code & Vector512.Create(0x80), 24);
        Vector512<float> normal = (Vector512.ShiftLeft(mag, 20) + Vector512.Create(120 << 23)).AsSingle();
        Vector512<float> sub = Vector512.ConvertToSingle(mag) * Vector512.Create(0.001953125f);
        Vector512<float> v = Vector512.ConditionalSelect(Vector512.LessThan(mag, Vector512.Create(8)).AsSingle(), sub, normal);
        v = Vector512.ConditionalSelect(Vector512.Equals(mag, Vector512.Create(0x7F)).AsSingle(), Vector512.Create(float.NaN), v);
        return (v.AsInt32() | sign).AsSingle();
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static Vector256<float> Decode(Vector256<int> code)
    {
        Vector256<int> mag = code & Vector256.Create(0x7F);
        Vector256<int> sign = Vector256.ShiftLeft(code & Vector256.Create(0x80), 24);
        Vector256<float> normal = (Vector256.ShiftLeft(mag, 20) + Vector256.Create(120 << 23)).AsSingle();
        Vector256<float> sub = Vector256.ConvertToSingle(mag) * Vector256.Create(0.001953125f);
        Vector256<float> v = Vector256.ConditionalSelect(Vector256.LessThan(mag, Vector256.Create(8)).AsSingle(), sub, normal);
        v = Vector256.ConditionalSelect(Vector256.Equals(mag, Vector256.Create(0x7F)).AsSingle(), Vector256.Create(float.NaN), v);
        return (v.AsInt32() | sign).AsSingle();
    }
}
