using System.Numerics;
using System.Runtime.CompilerServices;

namespace R1Orleans.Backend;

/// <summary>
/// out[h, c] = Σ_u p[h, u] · v[u, c]: the second GEMM of attention (probabilities times values) when the values are
/// stored row by row ([keys, width], the first <c>columns</c> of each row used), as absorbed MLA's latents are.
/// Register tiles of 4 rows of p × 4 vectors of columns over key blocks that stay in L1, so each value row is read from
/// memory once per block of heads instead of once per head. Every output element is one running fused multiply-add
/// over u in increasing order, whatever the tile, so a head's result does not depend on how the heads were split.
/// </summary>
internal static unsafe class WeightedSumKernels
{
    private const int KeyBlock = 64;

    private static readonly int s_width = Vector<float>.Count;

    /// <summary>
    /// out[h * outStride + c] = Σ_{u &lt; keys} p[h * pStride + u] · V(u)[c], for h &lt; rows, c &lt; columns. V(u) is row u of
    /// v (stride vStride) when table is null; otherwise v is a paged pool and V(u) is row u % blockSize of block
    /// table[u / blockSize] (vLLM's block table).
    /// </summary>
    public static void Rows(float* p, int rows, int keys, int pStride, float* v, int vStride, int* table, int blockSize, int columns, float* output, int outStride)
    {
        for (int h = 0; h < rows; h++)
        {
            new Span<float>(output + ((long)h * outStride), columns).Clear();
        }

        int tile = 4 * s_width;
        int block = table is null ? KeyBlock : blockSize;
        for (int u0 = 0, b = 0; u0 < keys; u0 += block, b++)
        {
            int n = Math.Min(keys, u0 + block) - u0;
            float* vb = table is null ? v + ((long)u0 * vStride) : v + ((long)table[b] * blockSize * vStride);
            int h = 0;
            for (; h + 3 < rows; h += 4)
            {
                int c = 0;
                for (; c + tile <= columns; c += tile)
                {
                    Tile4x4(p + ((long)h * pStride) + u0, pStride, n, vb + c, vStride, output + ((long)h * outStride) + c, outStride);
                }

                for (int r = h; r < h + 4; r++)
                {
                    Tail(p + ((long)r * pStride) + u0, n, vb, vStride, c, columns, output + ((long)r * outStride));
                }
            }

            for (; h < rows; h++)
            {
                Tail(p + ((long)h * pStride) + u0, n, vb, vStride, 0, columns, output + ((long)h * outStride));
            }
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector<float> Load(float* a) => Unsafe.ReadUnaligned<Vector<float>>(a);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store(float* a, Vector<float> x) => Unsafe.WriteUnaligned(a, x);

    /// <summary>4 rows × 4 vectors of columns, over n keys (p and v already at the first), added to what out holds.</summary>
    private static void Tile4x4(float* p, int pStride, int n, float* v, int vStride, float* o, int oStride)
    {
        int w = s_width;
        float* o1 = o + oStride, o2 = o1 + oStride, o3 = o2 + oStride;
        Vector<float> a00 = Load(o), a01 = Load(o + w), a02 = Load(o + (2 * w)), a03 = Load(o + (3 * w));
        Vector<float> a10 = Load(o1), a11 = Load(o1 + w), a12 = Load(o1 + (2 * w)), a13 = Load(o1 + (3 * w));
        Vector<float> a20 = Load(o2), a21 = Load(o2 + w), a22 = Load(o2 + (2 * w)), a23 = Load(o2 + (3 * w));
        Vector<float> a30 = Load(o3), a31 = Load(o3 + w), a32 = Load(o3 + (2 * w)), a33 = Load(o3 + (3 * w));
        float* p1 = p + pStride, p2 = p1 + pStride, p3 = p2 + pStride;
        for (int u = 0; u < n; u++)
        {
            float* row = v + ((long)u * vStride);
            Vector<float> v0 = Load(row), v1 = Load(row + w), v2 = Load(row + (2 * w)), v3 = Load(row + (3 * w));
            var s0 = new Vector<float>(p[u]);
            var s1 = new Vector<float>(p1[u]);
            var s2 = new Vector<float>(p2[u]);
            var s3 = new Vector<float>(p3[u]);
            a00 = Vector.FusedMultiplyAdd(s0, v0, a00);
            a01 = Vector.FusedMultiplyAdd(s0, v1, a01);
            a02 = Vector.FusedMultiplyAdd(s0, v2, a02);
            a03 = Vector.FusedMultiplyAdd(s0, v3, a03);
            a10 = Vector.FusedMultiplyAdd(s1, v0, a10);
            a11 = Vector.FusedMultiplyAdd(s1, v1, a11);
            a12 = Vector.FusedMultiplyAdd(s1, v2, a12);
            a13 = Vector.FusedMultiplyAdd(s1, v3, a13);
            a20 = Vector.FusedMultiplyAdd(s2, v0, a20);
            a21 = Vector.FusedMultiplyAdd(s2, v1, a21);
            a22 = Vector.FusedMultiplyAdd(s2, v2, a22);
            a23 = Vector.FusedMultiplyAdd(s2, v3, a23);
            a30 = Vector.FusedMultiplyAdd(s3, v0, a30);
            a31 = Vector.FusedMultiplyAdd(s3, v1, a31);
            a32 = Vector.FusedMultiplyAdd(s3, v2, a32);
            a33 = Vector.FusedMultiplyAdd(s3, v3, a33);
        }

        Store(o, a00);
        Store(o + w, a01);
        Store(o + (2 * w), a02);
        Store(o + (3 * w), a03);
        Store(o1, a10);
        Store(o1 + w, a11);
        Store(o1 + (2 * w), a12);
        Store(o1 + (3 * w), a13);
        Store(o2, a20);
        Store(o2 + w, a21);
        Store(o2 + (2 * w), a22);
        Store(o2 + (3 * w), a23);
        Store(o3, a30);
        Store(o3 + w, a31);
        Store(o3 + (2 * w), a32);
        Store(o3 + (3 * w), a33);
    }

    /// <summary>One row, columns [c0, columns), over n keys: vectors, then scalars, each element one running FMA over u.</summary>
    private static void Tail(float* p, int n, float* v, int vStride, int c0, int columns, float* o)
    {
        int w = s_width;
        int c = c0;
        for (; c + w <= columns; c += w)
        {
            Vector<float> a = Load(o + c);
            for (int u = 0; u < n; u++)
            {
                a = Vector.FusedMultiplyAdd(new Vector<float>(p[u]), Load(v + ((long)u * vStride) + c), a);
            }

            Store(o + c, a);
        }

        for (; c < columns; c++)
        {
            float a = o[c];
            for (int u = 0; u < n; u++)
            {
                a = MathF.FusedMultiplyAdd(p[u], v[((long)u * vStride) + c], a);
            }

            o[c] = a;
        }
    }
}
