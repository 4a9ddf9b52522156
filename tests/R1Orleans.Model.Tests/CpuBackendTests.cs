using CsCheck;
using R1Orleans.Backend;

namespace R1Orleans.Model.Tests;

public sealed class CpuBackendTests
{
    // Four threads even on a two-core machine, so calls above the parallel threshold really split into chunks.
    private static readonly CpuBackend s_backend = new(threads: 4);

    [Theory]
    [InlineData(1, 1, 1)]
    [InlineData(1, 5, 3)]
    [InlineData(3, 7, 5)]
    [InlineData(1, 300, 128)] // 38,400 multiply-adds: above the parallel threshold with n = 1
    [InlineData(17, 129, 33)] // above the threshold, rows not a multiple of the chunk count
    [InlineData(2, 1, 20_000)] // one output row, long dot product
    public void Linear_matches_a_naive_triple_loop(int n, int rows, int cols)
    {
        CheckLinear(n, rows, cols, seed: (n * 1000) + rows + cols);
    }

    [Fact]
    public void Linear_matches_a_naive_triple_loop_for_random_shapes()
    {
        Gen.Select(Gen.Int[1, 9], Gen.Int[1, 200], Gen.Int[1, 160], Gen.Int)
            .Sample((n, rows, cols, seed) => CheckLinear(n, rows, cols, seed), iter: 150);
    }

    [Theory]
    [InlineData(7, 37, 100)] // rows in a 4-row tile, a 2-row tile and alone
    [InlineData(9, 300, 128)] // above the parallel threshold
    public void Linear_gives_each_row_the_same_bits_alone_or_in_any_batch(int n, int rows, int cols)
    {
        float[] x = TestData.Floats(30, n * cols);
        Matrix w = TestData.Matrix(31, rows, cols);
        float[] batched = new float[n * rows];
        s_backend.Linear(x, n, w, batched);
        for (int i = 0; i < n; i++)
        {
            float[] alone = new float[rows];
            s_backend.Linear(x.AsSpan(i * cols, cols), 1, w, alone);
            Assert.Equal(alone, batched[(i * rows)..((i + 1) * rows)]);
        }
    }

    private static void CheckLinear(int n, int rows, int cols, int seed)
    {
        float[] x = TestData.Floats(seed, n * cols);
        Matrix w = TestData.Matrix(seed + 1, rows, cols);

        // y is longer than needed: the values past n × rows must stay untouched.
        float[] y = new float[(n * rows) + 3];
        Array.Fill(y, float.NaN);
        s_backend.Linear(x, n, w, y);

        double[] expected = Reference.Linear(x, n, w);
        for (int i = 0; i < expected.Length; i++)
        {
            // Error bound of a float32 dot product of cols terms of magnitude ≤ 1.
            double tolerance = 1e-6 * cols;
            if (!(Math.Abs(y[i] - expected[i]) <= tolerance))
            {
                Assert.Fail($"[{n}, {cols}] x [{rows}, {cols}]ᵀ: y[{i}] = {y[i]}, expected {expected[i]}");
            }
        }

        Assert.All(y[(n * rows)..], v => Assert.True(float.IsNaN(v)));
    }

    [Fact]
    public void Linear_rejects_outputs_that_are_too_short()
    {
        Matrix w = TestData.Matrix(1, 4, 3);
        Assert.Throws<ArgumentException>(() => s_backend.Linear(new float[6], 2, w, new float[7]));
        Assert.Throws<ArgumentException>(() => s_backend.Linear(new float[5], 2, w, new float[8]));
    }

    [Fact]
    public void RmsNorm_of_a_hand_example()
    {
        // mean(x²) = (9 + 16) / 2 = 12.5
        float[] y = new float[2];
        s_backend.RmsNorm([3f, 4f], 1, [1f, 2f], 0f, y);
        TestData.AssertClose(y, [3 / Math.Sqrt(12.5), 8 / Math.Sqrt(12.5)], 1e-6);
    }

    [Fact]
    public void RmsNorm_normalizes_each_row_on_its_own_and_adds_eps_inside_the_root()
    {
        // Row 0: mean(x²) = 1, eps 1 → x / √2. Row 1: mean(x²) = (36 + 64) / 2 = 50 → x / √51.
        float[] y = new float[4];
        s_backend.RmsNorm([1f, -1f, 6f, 8f], 2, [1f, 1f], 1f, y);
        TestData.AssertClose(y, [1 / Math.Sqrt(2), -1 / Math.Sqrt(2), 6 / Math.Sqrt(51), 8 / Math.Sqrt(51)], 1e-6);
    }

    [Fact]
    public void SiluMul_of_hand_values()
    {
        // silu(g) = g · sigmoid(g): silu(0) = 0, silu(1) = 0.7310586, silu(−1) = −0.2689414, silu(2) = 1.7615942.
        float[] gate = [0f, 1f, -1f, 2f];
        float[] up = [5f, 2f, 3f, -1f];
        float[] y = new float[4];
        s_backend.SiluMul(gate, up, y);
        TestData.AssertClose(y, [0, 2 * 0.7310585786, 3 * -0.2689414214, -1.7615941560], 1e-6);
    }

    [Fact]
    public void SiluMul_is_right_when_the_output_aliases_gate_or_up()
    {
        float[] gate = TestData.Floats(3, 100, 4f);
        float[] up = TestData.Floats(4, 100, 4f);
        float[] expected = new float[100];
        s_backend.SiluMul(gate, up, expected);
        for (int i = 0; i < 100; i++)
        {
            Assert.Equal(gate[i] / (1 + Math.Exp(-gate[i])) * up[i], expected[i], 1e-5);
        }

        float[] intoGate = (float[])gate.Clone();
        s_backend.SiluMul(intoGate, up, intoGate);
        Assert.Equal(expected, intoGate);

        float[] intoUp = (float[])up.Clone();
        s_backend.SiluMul(gate, intoUp, intoUp);
        Assert.Equal(expected, intoUp);
    }

    [Fact]
    public void Attention_with_one_head_matches_a_hand_computed_softmax()
    {
        // nope 2, rope 1, v 2; two keys, two queries at positions 0 and 1; scale 0.5.
        // Query 0 sees key 0 only → v0. Query 1: scores 0.5·(q·k0) = 0 and 0.5·(ln 3 + ln 3) = ln 3
        // → softmax [1/4, 3/4] → 1/4·[4, 0] + 3/4·[0, 8] = [1, 6].
        float ln3 = MathF.Log(3);
        float[] q = [7f, -2f, 5f, /* query 1 */ 1f, 0f, 1f];
        float[] kv = [0f, 0f, 4f, 0f, /* key 1 */ ln3, 0f, 0f, 8f];

        // The rope key sits at offset 1 of rows of 3 (a padded layout), as in the latent cache.
        float[] keyRope = [99f, 0f, 99f, 99f, ln3, 99f];
        float[] output = new float[4];
        s_backend.Attention(new AttentionProblem
        {
            Q = q,
            KeyValue = kv,
            KeyRope = keyRope,
            KeyRopeStride = 3,
            KeyRopeOffset = 1,
            Output = output,
            Queries = 2,
            Keys = 2,
            FirstQueryPosition = 0,
            Heads = 1,
            NopeDim = 2,
            RopeDim = 1,
            VDim = 2,
            Scale = 0.5f,
        });
        TestData.AssertClose(output, [4, 0, 1, 6], 1e-6);
    }

    [Theory]
    [InlineData(1, 5, 0, 7)]
    [InlineData(3, 9, 0, 9)]
    [InlineData(4, 3, 6, 9)] // a decode-like chunk: queries at positions 6..8 against 9 cached keys
    [InlineData(16, 40, 0, 40)] // above the parallel threshold: heads run in parallel
    public void Attention_matches_a_naive_reference(int heads, int queries, int first, int keys)
    {
        const int nope = 8, rope = 4, vd = 6, krStride = 7, krOffset = 2;
        float[] q = TestData.Floats(10, queries * heads * (nope + rope));
        float[] kv = TestData.Floats(11, keys * heads * (nope + vd));
        float[] kr = TestData.Floats(12, keys * krStride);
        float[] output = new float[queries * heads * vd];
        s_backend.Attention(Problem(q, kv, kr, krStride, krOffset, output, queries, keys, first, heads, nope, rope, vd, 0.3f));
        double[] expected = Reference.Attention(q, kv, kr, krStride, krOffset, queries, first, heads, nope, rope, vd, 0.3);
        TestData.AssertClose(output, expected, 1e-5);
    }

    [Theory]
    [InlineData(3, 150, 0, 150, 32, 16, 40)] // query blocks of 64 plus a tail; value columns beyond the vector tiles
    [InlineData(5, 70, 30, 100, 24, 8, 17)] // a later prefill chunk: queries at positions 30..99
    [InlineData(16, 80, 0, 80, 32, 16, 32)] // above the parallel threshold
    public void Tiled_attention_matches_the_reference_across_query_blocks(int heads, int queries, int first, int keys, int nope, int rope, int vd)
    {
        const int krStride = 70, krOffset = 3;
        float[] q = TestData.Floats(20, queries * heads * (nope + rope));
        float[] kv = TestData.Floats(21, keys * heads * (nope + vd));
        float[] kr = TestData.Floats(22, keys * krStride);
        float[] output = new float[queries * heads * vd];
        s_backend.Attention(Problem(q, kv, kr, krStride, krOffset, output, queries, keys, first, heads, nope, rope, vd, 0.2f));
        double[] expected = Reference.Attention(q, kv, kr, krStride, krOffset, queries, first, heads, nope, rope, vd, 0.2);
        TestData.AssertClose(output, expected, 1e-5);

        float[] perHead = new float[queries * heads * vd];
        new CpuBackend(2, AttentionKernel.PerHead).Attention(Problem(q, kv, kr, krStride, krOffset, perHead, queries, keys, first, heads, nope, rope, vd, 0.2f));
        Assert.True(TestData.RelativeMaxError(output, perHead) <= 1e-6, $"relative error {TestData.RelativeMaxError(output, perHead)}");
    }

    [Fact]
    public void Tiled_attention_gives_each_head_the_same_bits_on_one_thread_or_many()
    {
        const int heads = 16, queries = 100, keys = 100, nope = 32, rope = 16, vd = 32, krStride = 48, krOffset = 32;
        float[] q = TestData.Floats(23, queries * heads * (nope + rope));
        float[] kv = TestData.Floats(24, keys * heads * (nope + vd));
        float[] kr = TestData.Floats(25, keys * krStride);
        float[] one = new float[queries * heads * vd];
        float[] many = new float[queries * heads * vd];
        new CpuBackend(1).Attention(Problem(q, kv, kr, krStride, krOffset, one, queries, keys, 0, heads, nope, rope, vd, 0.2f));
        new CpuBackend(4).Attention(Problem(q, kv, kr, krStride, krOffset, many, queries, keys, 0, heads, nope, rope, vd, 0.2f));
        Assert.Equal(one, many);
    }

    [Fact]
    public void Attention_is_causal_a_later_key_never_changes_an_earlier_query()
    {
        const int heads = 2, nope = 4, rope = 2, vd = 3, keys = 6;
        float[] q = TestData.Floats(20, keys * heads * (nope + rope));
        float[] kv = TestData.Floats(21, keys * heads * (nope + vd));
        float[] kr = TestData.Floats(22, keys * rope);
        float[] before = new float[keys * heads * vd];
        s_backend.Attention(Problem(q, kv, kr, rope, 0, before, keys, keys, 0, heads, nope, rope, vd, 1f));

        // Change everything about the last key (its k_nope, v and rope key).
        for (int j = 0; j < heads * (nope + vd); j++)
        {
            kv[((keys - 1) * heads * (nope + vd)) + j] += 10f;
        }

        kr[(keys - 1) * rope] -= 10f;
        float[] after = new float[keys * heads * vd];
        s_backend.Attention(Problem(q, kv, kr, rope, 0, after, keys, keys, 0, heads, nope, rope, vd, 1f));

        int earlier = (keys - 1) * heads * vd;
        Assert.Equal(before[..earlier], after[..earlier]);
        Assert.NotEqual(before[earlier..], after[earlier..]);
    }

    [Fact]
    public void Attention_of_the_last_query_alone_equals_its_row_of_the_full_prefill()
    {
        const int heads = 3, nope = 4, rope = 2, vd = 3, keys = 5;
        float[] q = TestData.Floats(30, keys * heads * (nope + rope));
        float[] kv = TestData.Floats(31, keys * heads * (nope + vd));
        float[] kr = TestData.Floats(32, keys * rope);
        float[] full = new float[keys * heads * vd];
        s_backend.Attention(Problem(q, kv, kr, rope, 0, full, keys, keys, 0, heads, nope, rope, vd, 1f));

        float[] last = new float[heads * vd];
        int qWidth = heads * (nope + rope);
        s_backend.Attention(Problem(q[((keys - 1) * qWidth)..], kv, kr, rope, 0, last, 1, keys, keys - 1, heads, nope, rope, vd, 1f));
        Assert.Equal(full[((keys - 1) * heads * vd)..], last);
    }

    [Fact]
    public void Attention_rejects_queries_past_the_keys()
    {
        float[] q = new float[2 * 3];
        float[] kv = new float[2 * 4];
        float[] kr = new float[2];
        float[] output = new float[2 * 2];
        Assert.Throws<ArgumentException>(() => s_backend.Attention(Problem(q, kv, kr, 1, 0, output, 2, 2, 1, 1, 2, 1, 2, 1f)));
    }

    [Theory]
    [InlineData(1, 4, 0, 4)]
    [InlineData(4, 1, 8, 9)]
    [InlineData(16, 24, 0, 24)] // above the parallel threshold
    public void LatentAttention_matches_a_naive_reference(int heads, int queries, int first, int keys)
    {
        const int latent = 12, rope = 4;
        float[] q = TestData.Floats(40, queries * heads * (latent + rope));
        float[] lat = TestData.Floats(41, keys * (latent + rope));
        float[] output = new float[queries * heads * latent];
        s_backend.LatentAttention(LatentProblem(q, lat, output, queries, keys, first, heads, latent, rope, 0.25f));
        double[] expected = Reference.LatentAttention(q, lat, queries, first, heads, latent, rope, 0.25);
        TestData.AssertClose(output, expected, 1e-5);
    }

    [Theory]
    [InlineData(6, 2, 148, 150, 64, 16)] // register tiles of 4 heads plus a 2-head tail, key blocks of 64 plus a tail
    [InlineData(16, 3, 597, 600, 72, 8)] // above the parallel threshold; a column tail beyond the vector tiles
    [InlineData(5, 1, 0, 1, 3, 1)] // one key, columns narrower than a vector
    public void LatentAttention_matches_the_reference_at_tile_and_block_edges(int heads, int queries, int first, int keys, int latent, int rope)
    {
        float[] q = TestData.Floats(42, queries * heads * (latent + rope));
        float[] lat = TestData.Floats(43, keys * (latent + rope));
        float[] output = new float[queries * heads * latent];
        s_backend.LatentAttention(LatentProblem(q, lat, output, queries, keys, first, heads, latent, rope, 0.1f));
        double[] expected = Reference.LatentAttention(q, lat, queries, first, heads, latent, rope, 0.1);
        TestData.AssertClose(output, expected, 1e-5);
    }

    [Fact]
    public void LatentAttention_gives_each_head_the_same_bits_however_the_heads_are_split_across_threads()
    {
        const int heads = 16, queries = 2, keys = 600, latent = 64, rope = 16; // above the parallel threshold
        float[] q = TestData.Floats(44, queries * heads * (latent + rope));
        float[] lat = TestData.Floats(45, keys * (latent + rope));
        float[] one = new float[queries * heads * latent];
        float[] many = new float[queries * heads * latent];
        new CpuBackend(threads: 1).LatentAttention(LatentProblem(q, lat, one, queries, keys, keys - queries, heads, latent, rope, 0.1f));
        new CpuBackend(threads: 4).LatentAttention(LatentProblem(q, lat, many, queries, keys, keys - queries, heads, latent, rope, 0.1f));
        Assert.Equal(one, many);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(4)]
    public void LatentAttention_reads_a_paged_pool_through_its_block_table_with_the_same_bits_as_contiguous_latents(int threads)
    {
        const int heads = 16, queries = 2, keys = 601, latent = 64, rope = 16, width = latent + rope, blockSize = 16;
        float[] q = TestData.Floats(46, queries * heads * width);
        float[] contiguous = TestData.Floats(47, keys * width);

        // Scatter the positions over a pool of 48 blocks in a shuffled order; the unused blocks hold garbage.
        int used = (keys + blockSize - 1) / blockSize;
        int[] table = [.. Enumerable.Range(0, 48).OrderBy(b => (b * 37) % 48).Take(used)];
        float[] pool = TestData.Floats(48, 48 * blockSize * width);
        for (int u = 0; u < keys; u++)
        {
            contiguous.AsSpan(u * width, width).CopyTo(pool.AsSpan(((table[u / blockSize] * blockSize) + (u % blockSize)) * width, width));
        }

        var backend = new CpuBackend(threads);
        float[] expected = new float[queries * heads * latent];
        backend.LatentAttention(LatentProblem(q, contiguous, expected, queries, keys, keys - queries, heads, latent, rope, 0.1f));
        float[] paged = new float[queries * heads * latent];
        backend.LatentAttention(LatentProblem(q, pool, paged, queries, keys, keys - queries, heads, latent, rope, 0.1f) with { BlockTable = table, BlockSize = blockSize });
        Assert.Equal(expected, paged);

        // A block table that points outside the pool is refused.
        int[] bad = [.. table];
        bad[3] = 48;
        Assert.Throws<ArgumentException>(() => backend.LatentAttention(LatentProblem(q, pool, paged, queries, keys, keys - queries, heads, latent, rope, 0.1f) with { BlockTable = bad, BlockSize = blockSize }));
    }

    [Theory]
    [InlineData(1, 1, 37)]
    [InlineData(4, 2, 700)]
    [InlineData(16, 3, 130)]
    public void The_tiled_latent_attention_agrees_with_the_per_head_reference_on_paged_latents(int heads, int queries, int keys)
    {
        const int latent = 64, rope = 16, width = latent + rope, blockSize = 16;
        float[] q = TestData.Floats(70, queries * heads * width);
        int used = (keys + blockSize - 1) / blockSize;
        int[] table = [.. Enumerable.Range(0, used + 3).Reverse().Take(used)];
        float[] pool = TestData.Floats(71, (used + 3) * blockSize * width);
        float[] tiled = new float[queries * heads * latent];
        float[] reference = new float[queries * heads * latent];
        new CpuBackend(2).LatentAttention(LatentProblem(q, pool, tiled, queries, keys, keys - queries, heads, latent, rope, 0.1f) with { BlockTable = table, BlockSize = blockSize });
        new CpuBackend(2, AttentionKernel.PerHead).LatentAttention(LatentProblem(q, pool, reference, queries, keys, keys - queries, heads, latent, rope, 0.1f) with { BlockTable = table, BlockSize = blockSize });
        Assert.True(TestData.RelativeMaxError(tiled, reference) <= 1e-6, $"relative error {TestData.RelativeMaxError(tiled, reference)}");
        Assert.NotEqual(0f, reference.Select(Math.Abs).Max());
    }

    [Fact]
    public void LatentAttention_equals_Attention_when_keys_and_values_are_the_latent_itself()
    {
        // With k_nope = v = c for every head (kv_b = [I; I] per head), naive attention over [c | k_rope] is absorbed
        // attention over the latent.
        const int heads = 3, latent = 8, rope = 4, keys = 6, width = latent + rope;
        float[] q = TestData.Floats(50, keys * heads * width);
        float[] lat = TestData.Floats(51, keys * width);
        float[] kv = new float[keys * heads * 2 * latent];
        for (int u = 0; u < keys; u++)
        {
            for (int h = 0; h < heads; h++)
            {
                lat.AsSpan(u * width, latent).CopyTo(kv.AsSpan(((u * heads) + h) * 2 * latent, latent));
                lat.AsSpan(u * width, latent).CopyTo(kv.AsSpan((((u * heads) + h) * 2 * latent) + latent, latent));
            }
        }

        float[] naive = new float[keys * heads * latent];
        s_backend.Attention(Problem(q, kv, lat, width, latent, naive, keys, keys, 0, heads, latent, rope, latent, 0.2f));
        float[] absorbed = new float[keys * heads * latent];
        s_backend.LatentAttention(LatentProblem(q, lat, absorbed, keys, keys, 0, heads, latent, rope, 0.2f));
        Assert.True(TestData.RelativeMaxError(absorbed, naive) <= 1e-6, $"relative error {TestData.RelativeMaxError(absorbed, naive)}");
    }

    [Fact]
    public void LatentAttention_is_causal_a_later_key_never_changes_an_earlier_query()
    {
        const int heads = 2, latent = 6, rope = 2, keys = 5, width = latent + rope;
        float[] q = TestData.Floats(60, keys * heads * width);
        float[] lat = TestData.Floats(61, keys * width);
        float[] before = new float[keys * heads * latent];
        s_backend.LatentAttention(LatentProblem(q, lat, before, keys, keys, 0, heads, latent, rope, 1f));
        for (int j = 0; j < width; j++)
        {
            lat[((keys - 1) * width) + j] += 5f;
        }

        float[] after = new float[keys * heads * latent];
        s_backend.LatentAttention(LatentProblem(q, lat, after, keys, keys, 0, heads, latent, rope, 1f));
        int earlier = (keys - 1) * heads * latent;
        Assert.Equal(before[..earlier], after[..earlier]);
        Assert.NotEqual(before[earlier..], after[earlier..]);
    }

    private static AttentionProblem Problem(
        float[] q, float[] kv, float[] kr, int krStride, int krOffset, float[] output,
        int queries, int keys, int first, int heads, int nope, int rope, int vd, float scale) => new()
        {
            Q = q,
            KeyValue = kv,
            KeyRope = kr,
            KeyRopeStride = krStride,
            KeyRopeOffset = krOffset,
            Output = output,
            Queries = queries,
            Keys = keys,
            FirstQueryPosition = first,
            Heads = heads,
            NopeDim = nope,
            RopeDim = rope,
            VDim = vd,
            Scale = scale,
        };

    private static LatentAttentionProblem LatentProblem(
        float[] q, float[] latent, float[] output, int queries, int keys, int first, int heads, int latentDim, int rope, float scale) => new()
        {
            Q = q,
            Latent = latent,
            Output = output,
            Queries = queries,
            Keys = keys,
            FirstQueryPosition = first,
            Heads = heads,
            LatentDim = latentDim,
            RopeDim = rope,
            Scale = scale,
        };
}
