using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;

namespace R1Orleans.Backend;

/// <summary>
/// Register-tiled dot products for Linear: up to 4 activation rows × 4 weight rows per pass with 512-bit vectors
/// (2 × 4 otherwise), so each loaded weight vector feeds up to four FMAs and each activation vector four. Every
/// (activation row, weight row) pair has exactly one accumulator filled in the same order by every tile shape, so a
/// row's result is bit-identical whether it was paired with other rows or not (batching never changes a token's output).
/// </summary>
internal static unsafe class DotKernels
{
    private const int Width512 = 16;

    private static readonly int s_width = Vector<float>.Count;

    /// <summary>512-bit vectors where the CPU runs them natively (fixed per machine, so results stay deterministic).</summary>
    private static readonly bool s_use512 = Vector512.IsHardwareAccelerated;

    /// <summary>y[i * yStride + j] = x_i · w_j for i in [0, n), j in [j0, j1).</summary>
    public static void Rows(float* x, int n, float* w, int cols, int j0, int j1, float* y, int yStride)
    {
        // Weight rows in panels of about 128 KiB that stay in L2 while every activation row passes over them.
        int panel = Math.Max(4, (32768 / Math.Max(1, cols)) & ~3);
        for (int p = j0; p < j1; p += panel)
        {
            Panel(x, n, w, cols, p, Math.Min(j1, p + panel), y, yStride);
        }
    }

    private static void Panel(float* x, int n, float* w, int cols, int j0, int j1, float* y, int yStride)
    {
        int i = 0;
        if (s_use512)
        {
            // 4 × 4 tiles: 16 accumulators, 8 loads per 16 FMAs (the 2 × 4 tile needs 6 per 8).
            for (; i + 3 < n; i += 4)
            {
                float* x0 = x + ((long)i * cols);
                int j = j0;
                for (; j + 3 < j1; j += 4)
                {
                    Tile4x4_512(x0, w + ((long)j * cols), cols, y + ((long)i * yStride) + j, yStride);
                }

                for (; j < j1; j++)
                {
                    float* wr = w + ((long)j * cols);
                    for (int r = 0; r < 4; r++)
                    {
                        y[((long)(i + r) * yStride) + j] = Dot512(x0 + ((long)r * cols), wr, cols);
                    }
                }
            }
        }

        for (; i + 1 < n; i += 2)
        {
            float* x0 = x + ((long)i * cols);
            float* x1 = x0 + cols;
            int j = j0;
            for (; j + 3 < j1; j += 4)
            {
                if (s_use512)
                {
                    Tile2x4_512(x0, x1, w + ((long)j * cols), cols, y + ((long)i * yStride) + j, yStride);
                }
                else
                {
                    Tile2x4(x0, x1, w + ((long)j * cols), cols, y + ((long)i * yStride) + j, yStride);
                }
            }

            for (; j < j1; j++)
            {
                float* wr = w + ((long)j * cols);
                y[((long)i * yStride) + j] = s_use512 ? Dot512(x0, wr, cols) : Dot(x0, wr, cols);
                y[((long)(i + 1) * yStride) + j] = s_use512 ? Dot512(x1, wr, cols) : Dot(x1, wr, cols);
            }
        }

        for (; i < n; i++)
        {
            float* x0 = x + ((long)i * cols);
            int j = j0;
            for (; j + 3 < j1; j += 4)
            {
                if (s_use512)
                {
                    Tile1x4_512(x0, w + ((long)j * cols), cols, y + ((long)i * yStride) + j);
                }
                else
                {
                    Tile1x4(x0, w + ((long)j * cols), cols, y + ((long)i * yStride) + j);
                }
            }

            for (; j < j1; j++)
            {
                y[((long)i * yStride) + j] = s_use512 ? Dot512(x0, w + ((long)j * cols), cols) : Dot(x0, w + ((long)j * cols), cols);
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector<float> Load(float* p) => Unsafe.ReadUnaligned<Vector<float>>(p);

    private static float Dot(float* x, float* w, int cols)
    {
        Vector<float> a = Vector<float>.Zero;
        int k = 0;
        for (; k + s_width <= cols; k += s_width)
        {
            a = Vector.FusedMultiplyAdd(Load(x + k), Load(w + k), a);
        }

        return Finish(a, x, w, k, cols);
    }

    private static void Tile1x4(float* x0, float* w, int cols, float* y)
    {
        float* w1 = w + cols, w2 = w1 + cols, w3 = w2 + cols;
        Vector<float> a0 = default, a1 = default, a2 = default, a3 = default;
        int k = 0;
        for (; k + s_width <= cols; k += s_width)
        {
            Vector<float> v = Load(x0 + k);
            a0 = Vector.FusedMultiplyAdd(v, Load(w + k), a0);
            a1 = Vector.FusedMultiplyAdd(v, Load(w1 + k), a1);
            a2 = Vector.FusedMultiplyAdd(v, Load(w2 + k), a2);
            a3 = Vector.FusedMultiplyAdd(v, Load(w3 + k), a3);
        }

        y[0] = Finish(a0, x0, w, k, cols);
        y[1] = Finish(a1, x0, w1, k, cols);
        y[2] = Finish(a2, x0, w2, k, cols);
        y[3] = Finish(a3, x0, w3, k, cols);
    }

    private static void Tile2x4(float* x0, float* x1, float* w, int cols, float* y, int yStride)
    {
        float* w1 = w + cols, w2 = w1 + cols, w3 = w2 + cols;
        Vector<float> a0 = default, a1 = default, a2 = default, a3 = default;
        Vector<float> b0 = default, b1 = default, b2 = default, b3 = default;
        int k = 0;
        for (; k + s_width <= cols; k += s_width)
        {
            Vector<float> u = Load(x0 + k);
            Vector<float> v = Load(x1 + k);
            Vector<float> c0 = Load(w + k);
            Vector<float> c1 = Load(w1 + k);
            Vector<float> c2 = Load(w2 + k);
            Vector<float> c3 = Load(w3 + k);
            a0 = Vector.FusedMultiplyAdd(u, c0, a0);
            a1 = Vector.FusedMultiplyAdd(u, c1, a1);
            a2 = Vector.FusedMultiplyAdd(u, c2, a2);
            a3 = Vector.FusedMultiplyAdd(u, c3, a3);
            b0 = Vector.FusedMultiplyAdd(v, c0, b0);
            b1 = Vector.FusedMultiplyAdd(v, c1, b1);
            b2 = Vector.FusedMultiplyAdd(v, c2, b2);
            b3 = Vector.FusedMultiplyAdd(v, c3, b3);
        }

        y[0] = Finish(a0, x0, w, k, cols);
        y[1] = Finish(a1, x0, w1, k, cols);
        y[2] = Finish(a2, x0, w2, k, cols);
        y[3] = Finish(a3, x0, w3, k, cols);
        y[yStride] = Finish(b0, x1, w, k, cols);
        y[yStride + 1] = Finish(b1, x1, w1, k, cols);
        y[yStride + 2] = Finish(b2, x1, w2, k, cols);
        y[yStride + 3] = Finish(b3, x1, w3, k, cols);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> Load512(float* p) => Vector512.Load(p);

    private static float Dot512(float* x, float* w, int cols)
    {
        Vector512<float> a = Vector512<float>.Zero;
        int k = 0;
        for (; k + Width512 <= cols; k += Width512)
        {
            a = Vector512.FusedMultiplyAdd(Load512(x + k), Load512(w + k), a);
        }

        return Finish512(a, x, w, k, cols);
    }

    private static void Tile1x4_512(float* x0, float* w, int cols, float* y)
    {
        float* w1 = w + cols, w2 = w1 + cols, w3 = w2 + cols;
        Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default;
        int k = 0;
        for (; k + Width512 <= cols; k += Width512)
        {
            Vector512<float> v = Load512(x0 + k);
            a0 = Vector512.FusedMultiplyAdd(v, Load512(w + k), a0);
            a1 = Vector512.FusedMultiplyAdd(v, Load512(w1 + k), a1);
            a2 = Vector512.FusedMultiplyAdd(v, Load512(w2 + k), a2);
            a3 = Vector512.FusedMultiplyAdd(v, Load512(w3 + k), a3);
        }

        y[0] = Finish512(a0, x0, w, k, cols);
        y[1] = Finish512(a1, x0, w1, k, cols);
        y[2] = Finish512(a2, x0, w2, k, cols);
        y[3] = Finish512(a3, x0, w3, k, cols);
    }

    private static void Tile2x4_512(float* x0, float* x1, float* w, int cols, float* y, int yStride)
    {
        float* w1 = w + cols, w2 = w1 + cols, w3 = w2 + cols;
        Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default;
        Vector512<float> b0 = default, b1 = default, b2 = default, b3 = default;
        int k = 0;
        for (; k + Width512 <= cols; k += Width512)
        {
            Vector512<float> u = Load512(x0 + k);
            Vector512<float> v = Load512(x1 + k);
            Vector512<float> c0 = Load512(w + k);
            Vector512<float> c1 = Load512(w1 + k);
            Vector512<float> c2 = Load512(w2 + k);
            Vector512<float> c3 = Load512(w3 + k);
            a0 = Vector512.FusedMultiplyAdd(u, c0, a0);
            a1 = Vector512.FusedMultiplyAdd(u, c1, a1);
            a2 = Vector512.FusedMultiplyAdd(u, c2, a2);
            a3 = Vector512.FusedMultiplyAdd(u, c3, a3);
            b0 = Vector512.FusedMultiplyAdd(v, c0, b0);
            b1 = Vector512.FusedMultiplyAdd(v, c1, b1);
            b2 = Vector512.FusedMultiplyAdd(v, c2, b2);
            b3 = Vector512.FusedMultiplyAdd(v, c3, b3);
        }

        y[0] = Finish512(a0, x0, w, k, cols);
        y[1] = Finish512(a1, x0, w1, k, cols);
        y[2] = Finish512(a2, x0, w2, k, cols);
        y[3] = Finish512(a3, x0, w3, k, cols);
        y[yStride] = Finish512(b0, x1, w, k, cols);
        y[yStride + 1] = Finish512(b1, x1, w1, k, cols);
        y[yStride + 2] = Finish512(b2, x1, w2, k, cols);
        y[yStride + 3] = Finish512(b3, x1, w3, k, cols);
    }

    private static void Tile4x4_512(float* x0, float* w, int cols, float* y, int yStride)
    {
        float* x1 = x0 + cols, x2 = x1 + cols, x3 = x2 + cols;
        float* w1 = w + cols, w2 = w1 + cols, w3 = w2 + cols;
        Vector512<float> a0 = default, a1 = default, a2 = default, a3 = default;
        Vector512<float> b0 = default, b1 = default, b2 = default, b3 = default;
        Vector512<float> c0 = default, c1 = default, c2 = default, c3 = default;
        Vector512<float> d0 = default, d1 = default, d2 = default, d3 = default;
        int k = 0;
        for (; k + Width512 <= cols; k += Width512)
        {
            Vector512<float> u0 = Load512(x0 + k), u1 = Load512(x1 + k), u2 = Load512(x2 + k), u3 = Load512(x3 + k);
            Vector512<float> v0 = Load512(w + k), v1 = Load512(w1 + k), v2 = Load512(w2 + k), v3 = Load512(w3 + k);
            a0 = Vector512.FusedMultiplyAdd(u0, v0, a0);
            a1 = Vector512.FusedMultiplyAdd(u0, v1, a1);
            a2 = Vector512.FusedMultiplyAdd(u0, v2, a2);
            a3 = Vector512.FusedMultiplyAdd(u0, v3, a3);
            b0 = Vector512.FusedMultiplyAdd(u1, v0, b0);
            b1 = Vector512.FusedMultiplyAdd(u1, v1, b1);
            b2 = Vector512.FusedMultiplyAdd(u1, v2, b2);
            b3 = Vector512.FusedMultiplyAdd(u1, v3, b3);
            c0 = Vector512.FusedMultiplyAdd(u2, v0, c0);
            c1 = Vector512.FusedMultiplyAdd(u2, v1, c1);
            c2 = Vector512.FusedMultiplyAdd(u2, v2, c2);
            c3 = Vector512.FusedMultiplyAdd(u2, v3, c3);
            d0 = Vector512.FusedMultiplyAdd(u3, v0, d0);
            d1 = Vector512.FusedMultiplyAdd(u3, v1, d1);
            d2 = Vector512.FusedMultiplyAdd(u3, v2, d2);
            d3 = Vector512.FusedMultiplyAdd(u3, v3, d3);
        }

        y[0] = Finish512(a0, x0, w, k, cols);
        y[1] = Finish512(a1, x0, w1, k, cols);
        y[2] = Finish512(a2, x0, w2, k, cols);
        y[3] = Finish512(a3, x0, w3, k, cols);
        float* y1 = y + yStride, y2 = y1 + yStride, y3 = y2 + yStride;
        y1[0] = Finish512(b0, x1, w, k, cols);
        y1[1] = Finish512(b1, x1, w1, k, cols);
        y1[2] = Finish512(b2, x1, w2, k, cols);
        y1[3] = Finish512(b3, x1, w3, k, cols);
        y2[0] = Finish512(c0, x2, w, k, cols);
        y2[1] = Finish512(c1, x2, w1, k, cols);
        y2[2] = Finish512(c2, x2, w2, k, cols);
        y2[3] = Finish512(c3, x2, w3, k, cols);
        y3[0] = Finish512(d0, x3, w, k, cols);
        y3[1] = Finish512(d1, x3, w1, k, cols);
        y3[2] = Finish512(d2, x3, w2, k, cols);
        y3[3] = Finish512(d3, x3, w3, k, cols);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Finish512(Vector512<float> acc, float* x, float* w, int k, int cols)
    {
        float s = Vector512.Sum(acc);
        for (; k < cols; k++)
        {
            s = MathF.FusedMultiplyAdd(x[k], w[k], s);
        }

        return s;
    }

    /// <summary>Horizontal sum of the accumulator, then the scalar tail, in one fixed order.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static float Finish(Vector<float> acc, float* x, float* w, int k, int cols)
    {
        float s = Vector.Sum(acc);
        for (; k < cols; k++)
        {
            s = MathF.FusedMultiplyAdd(x[k], w[k], s);
        }

        return s;
    }
}
