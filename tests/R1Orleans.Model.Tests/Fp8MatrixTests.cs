using System.Runtime.Intrinsics;
using R1Orleans.Backend;
using R1Orleans.Checkpoint;

namespace R1Orleans.Model.Tests;

/// <summary>
/// An FP8 <see cref="Matrix"/> (codes + block scales) must give exactly the floats the checkpoint reader's load-time
/// dequantization gives, and <see cref="CpuBackend.Linear"/> on it exactly the bits of Linear on those floats.
/// </summary>
public sealed class Fp8MatrixTests
{
    [Fact]
    public void Backend_e4m3_table_is_the_readers_table_bit_for_bit()
    {
        for (int b = 0; b < 256; b++)
        {
            float mine = Fp8E4M3.Table[b], reader = ElementConversion.Fp8E4M3ToFloat((byte)b);
            Assert.True(
                float.IsNaN(reader) ? float.IsNaN(mine) : BitConverter.SingleToInt32Bits(mine) == BitConverter.SingleToInt32Bits(reader),
                $"code 0x{b:X2}: backend {mine}, reader {reader}");
        }
    }

    [Fact]
    public void Vector_decoders_give_the_table_value_of_every_code_in_every_lane()
    {
        // Decode uses only cross-platform vector operations, so both widths run on any machine (slowly where not native);
        // Linear takes whichever the CPU runs natively, so this covers the one a CI machine without AVX-512 would not.
        var codes = new int[256];
        for (int i = 0; i < 256; i++)
        {
            codes[i] = i;
        }

        for (int i = 0; i < 256; i += 16)
        {
            float[] wide = new float[16];
            Fp8Dequantize.Decode(Vector512.Create(codes.AsSpan(i, 16))).CopyTo(wide);
            float[] half = new float[8];
            Fp8Dequantize.Decode(Vector256.Create(codes.AsSpan(i, 8))).CopyTo(half);
            float[] upper = new float[8];
            Fp8Dequantize.Decode(Vector256.Create(codes.AsSpan(i + 8, 8))).CopyTo(upper);
            for (int lane = 0; lane < 16; lane++)
            {
                float table = Fp8E4M3.Table[i + lane];
                float narrow = lane < 8 ? half[lane] : upper[lane - 8];
                AssertSameFloat(table, wide[lane], $"512-bit decode of 0x{i + lane:X2}");
                AssertSameFloat(table, narrow, $"256-bit decode of 0x{i + lane:X2}");
            }
        }
    }

    private static void AssertSameFloat(float expected, float actual, string what) =>
        Assert.True(
            float.IsNaN(expected) ? float.IsNaN(actual) : BitConverter.SingleToInt32Bits(expected) == BitConverter.SingleToInt32Bits(actual),
            $"{what}: {actual:R}, table {expected:R}");

    [Theory]
    [InlineData(1, 1, 128, 128)]
    [InlineData(3, 300, 128, 128)] // every code, partial last block, the vector path and its scalar tail
    [InlineData(130, 257, 128, 128)] // partial blocks on both sides
    [InlineData(9, 45, 4, 7)] // blocks narrower than one vector
    public void Dequantized_rows_equal_the_readers_dequantization_bit_for_bit(int rows, int cols, int blockRows, int blockCols)
    {
        Matrix m = RandomFp8(rows * 7 + cols, rows, cols, blockRows, blockCols, allCodes: true);
        float[] mine = m.ToFloat32().Data;
        var reader = new float[rows * cols];
        var q = new Fp8Quantization("e4m3", blockRows, blockCols);
        Fp8BlockDequantizer.Dequantize(m.Codes, rows, cols, m.Scales, q, reader);
        for (int i = 0; i < mine.Length; i++)
        {
            bool same = float.IsNaN(reader[i]) ? float.IsNaN(mine[i]) : BitConverter.SingleToInt32Bits(mine[i]) == BitConverter.SingleToInt32Bits(reader[i]);
            Assert.True(same, $"[{i / cols}, {i % cols}] code 0x{m.Codes[i]:X2}: {mine[i]} vs the reader's {reader[i]}");
        }
    }

    public static TheoryData<int, int, int, bool> LinearShapes()
    {
        var data = new TheoryData<int, int, int, bool>();
        foreach (int n in new[] { 1, 3, 37 })
        {
            foreach ((int rows, int cols) in new[] { (1, 1), (5, 7), (130, 100), (257, 300), (67, 1000), (9, 2500) })
            {
                data.Add(n, rows, cols, false);
                data.Add(n, rows, cols, true);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(LinearShapes))]
    public void Linear_on_fp8_weights_is_bit_identical_to_linear_on_their_float32_dequantization(int n, int rows, int cols, bool parallel)
    {
        // Four threads on any machine, so a parallel call really splits into chunks; threshold 0 makes every call parallel.
        var backend = new CpuBackend(threads: 4, parallelThreshold: parallel ? 0 : long.MaxValue);
        Matrix fp8 = RandomFp8((n * 31) + rows + cols, rows, cols, 128, 128, allCodes: false);
        Matrix f32 = ReaderDequantized(fp8); // what the loader held before: the checkpoint reader's float32
        float[] x = TestData.Floats(n + rows, n * cols);
        float[] expected = new float[n * rows];
        float[] actual = new float[(n * rows) + 2];
        Array.Fill(actual, float.NaN);
        backend.Linear(x, n, f32, expected);
        backend.Linear(x, n, fp8, actual);
        for (int i = 0; i < expected.Length; i++)
        {
            Assert.True(
                BitConverter.SingleToInt32Bits(actual[i]) == BitConverter.SingleToInt32Bits(expected[i]),
                $"[{n}, {cols}] x [{rows}, {cols}]ᵀ ({(parallel ? "parallel" : "one thread")}): y[{i}] = {actual[i]:R}, float32 path {expected[i]:R}");
        }

        Assert.All(actual[(n * rows)..], v => Assert.True(float.IsNaN(v)));
    }

    [Fact]
    public void Byte_size_counts_codes_and_scales()
    {
        Matrix m = RandomFp8(1, 130, 300, 128, 128, allCodes: false);
        Assert.True(m.IsFp8);
        Assert.Equal((130 * 300) + (2 * 3 * 4), m.ByteSize);
        Assert.Equal(130L * 300 * 4, m.ToFloat32().ByteSize);
        Assert.False(m.ToFloat32().IsFp8);
    }

    [Fact]
    public void Float_only_operations_refuse_an_fp8_matrix_and_the_factory_checks_sizes()
    {
        Matrix m = RandomFp8(2, 8, 8, 4, 4, allCodes: false);
        Assert.Throws<InvalidOperationException>(() => m.Data);
        Assert.Throws<InvalidOperationException>(() => m.SliceRows(0, 1));
        Assert.Throws<InvalidOperationException>(() => m.Transpose());
        Assert.Throws<InvalidOperationException>(() => TestData.Matrix(1, 2, 2).Codes);
        Assert.Throws<ArgumentException>(() => Matrix.Fp8(8, 8, new byte[63], new float[4], 4, 4));
        Assert.Throws<ArgumentException>(() => Matrix.Fp8(8, 8, new byte[64], new float[3], 4, 4));
    }

    [Fact]
    public void Copy_row_gives_the_dequantized_row()
    {
        Matrix m = RandomFp8(3, 5, 200, 128, 128, allCodes: false);
        float[] all = m.ToFloat32().Data;
        var row = new float[200];
        m.CopyRow(4, row);
        Assert.Equal(all.AsSpan(800, 200).ToArray(), row);
    }

    /// <summary>The float32 matrix the checkpoint reader's dequantization gives for m's codes and scales.</summary>
    internal static Matrix ReaderDequantized(Matrix m)
    {
        var data = new float[m.Rows * m.Cols];
        Fp8BlockDequantizer.Dequantize(m.Codes, m.Rows, m.Cols, m.Scales, new Fp8Quantization("e4m3", m.BlockRows, m.BlockCols), data);
        return new Matrix(m.Rows, m.Cols, data);
    }

    /// <summary>Random codes (every code, NaN included, when allCodes; else finite ones) and scales spanning 2⁻¹²⁰..2⁴⁰, so products reach float32's subnormals.</summary>
    internal static Matrix RandomFp8(int seed, int rows, int cols, int blockRows, int blockCols, bool allCodes)
    {
        var rng = new Random(seed);
        var codes = new byte[rows * cols];
        for (int i = 0; i < codes.Length; i++)
        {
            byte c = allCodes && i < 256 ? (byte)i : (byte)rng.Next(256);
            codes[i] = !allCodes && (c & 0x7F) == 0x7F ? (byte)(c ^ 0x01) : c;
        }

        int scaleRows = (rows + blockRows - 1) / blockRows, scaleCols = (cols + blockCols - 1) / blockCols;
        var scales = new float[scaleRows * scaleCols];
        for (int i = 0; i < scales.Length; i++)
        {
            scales[i] = allCodes && i % 3 == 2
                ? (float)Math.ScaleB(1 + rng.NextDouble(), -120 + rng.Next(160))
                : (float)((0.5 + rng.NextDouble()) / 448.0);
        }

        return Matrix.Fp8(rows, cols, codes, scales, blockRows, blockCols);
    }
}
