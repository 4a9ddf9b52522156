using System.Numerics;
using R1Orleans.Checkpoint;

namespace R1Orleans.Model.Tests;

public sealed class YarnRopeTests
{
    private static ModelConfig Plain(int ropeDim = 8) => TestConfigs.Small() with { QkRopeHeadDim = ropeDim, RopeScaling = null };

    private static ModelConfig Yarn(int ropeDim, int original, double mscale = 1, double mscaleAllDim = 1) => TestConfigs.Small() with
    {
        QkNopeHeadDim = 16,
        QkRopeHeadDim = ropeDim,
        RopeScaling = new YarnScaling(Factor: 40, OriginalMaxPositionEmbeddings: original, BetaFast: 32, BetaSlow: 1, Mscale: mscale, MscaleAllDim: mscaleAllDim),
    };

    [Fact]
    public void Without_rope_scaling_inverse_frequencies_are_theta_to_the_minus_2i_over_d()
    {
        // theta 10000, d 8: 10000^(−2i/8) = 10^(−i).
        var rope = new YarnRope(Plain());
        Assert.Equal(8, rope.Dim);
        double[] f = rope.InverseFrequencies.ToArray();
        Assert.Equal(4, f.Length);
        for (int i = 0; i < 4; i++)
        {
            Assert.Equal(Math.Pow(10, -i), f[i], 1e-15);
        }
    }

    [Fact]
    public void Without_rope_scaling_softmax_scale_is_one_over_root_qk_head_dim()
    {
        // qk_head_dim = 8 + 8 = 16.
        Assert.Equal(0.25f, new YarnRope(Plain()).SoftmaxScale);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(7)]
    [InlineData(1000)]
    public void Rotating_a_pair_by_position_p_is_the_complex_multiply_by_e_to_the_i_p_f(int position)
    {
        var rope = new YarnRope(Plain());
        float[] cos = new float[4], sin = new float[4];
        rope.CosSin(position, cos, sin);
        float[] x = [1f, 2f, -3f, 0.5f, 0.25f, -4f, 2f, 2f];
        float[] rotated = (float[])x.Clone();
        YarnRope.Rotate(rotated, cos, sin);
        for (int i = 0; i < 4; i++)
        {
            Complex expected = new Complex(x[2 * i], x[(2 * i) + 1]) * Complex.Exp(new Complex(0, position * rope.InverseFrequencies[i]));
            Assert.Equal(expected.Real, rotated[2 * i], 1e-5);
            Assert.Equal(expected.Imaginary, rotated[(2 * i) + 1], 1e-5);
        }
    }

    [Fact]
    public void Position_zero_leaves_the_vector_unchanged()
    {
        var rope = new YarnRope(Yarn(16, 100));
        float[] cos = new float[8], sin = new float[8];
        rope.CosSin(0, cos, sin);
        float[] x = TestData.Floats(1, 16);
        float[] rotated = (float[])x.Clone();
        YarnRope.Rotate(rotated, cos, sin);
        Assert.Equal(x, rotated);
    }

    [Fact]
    public void Rotation_preserves_each_pairs_norm_when_the_attention_factor_is_one()
    {
        foreach (ModelConfig c in new[] { Plain(), Yarn(16, 100) })
        {
            var rope = new YarnRope(c);
            int half = rope.Dim / 2;
            float[] cos = new float[half], sin = new float[half];
            for (int p = 0; p < 300; p += 37)
            {
                rope.CosSin(p, cos, sin);
                float[] x = TestData.Floats(p, rope.Dim, 3f);
                float[] rotated = (float[])x.Clone();
                YarnRope.Rotate(rotated, cos, sin);
                for (int i = 0; i < half; i++)
                {
                    double before = Math.Sqrt((x[2 * i] * x[2 * i]) + (x[(2 * i) + 1] * x[(2 * i) + 1]));
                    double after = Math.Sqrt((rotated[2 * i] * rotated[2 * i]) + (rotated[(2 * i) + 1] * rotated[(2 * i) + 1]));
                    Assert.Equal(before, after, 1e-5);
                }
            }
        }
    }

    [Fact]
    public void Rotated_dot_products_depend_only_on_the_distance_between_positions()
    {
        var rope = new YarnRope(Yarn(16, 100));
        float[] q = TestData.Floats(5, 16);
        float[] k = TestData.Floats(6, 16);
        double At(int m, int n)
        {
            float[] cos = new float[8], sin = new float[8];
            float[] qr = (float[])q.Clone(), kr = (float[])k.Clone();
            rope.CosSin(m, cos, sin);
            YarnRope.Rotate(qr, cos, sin);
            rope.CosSin(n, cos, sin);
            YarnRope.Rotate(kr, cos, sin);
            return qr.Zip(kr, (a, b) => (double)a * b).Sum();
        }

        Assert.Equal(At(3, 1), At(12, 10), 1e-4);
        Assert.Equal(At(3, 1), At(102, 100), 1e-4);
        Assert.NotEqual(At(3, 1), At(4, 1), 3);
    }

    [Fact]
    public void Yarn_keeps_high_frequency_dims_and_divides_low_frequency_dims_by_the_factor()
    {
        // d 16, orig 100: corr(32) = 16·ln(100/(2π·32))/(2·ln 10⁴) = −0.61 → lo = 0; corr(1) = 2.40 → hi = 3.
        // ramp_i = i/3: dim 0 unchanged, dims 1 and 2 blended, dims 3..7 divided by 40.
        var rope = new YarnRope(Yarn(16, 100));
        double[] f = rope.InverseFrequencies.ToArray();
        for (int i = 0; i < 8; i++)
        {
            double plain = Math.Pow(10000, -2.0 * i / 16);
            double ramp = Math.Clamp(i / 3.0, 0, 1);
            double expected = (plain / 40 * ramp) + (plain * (1 - ramp));
            Assert.Equal(expected, f[i], 1e-15);
        }

        Assert.Equal(1.0, f[0]);
        Assert.Equal(Math.Pow(10000, -14.0 / 16) / 40, f[7], 1e-15);
    }

    [Fact]
    public void Yarn_with_deepseek_v3_numbers_keeps_dims_below_10_and_divides_dims_from_23_on()
    {
        // d 64, orig 4096: corr(32) = 10.47 → lo = 10; corr(1) = 22.51 → hi = 23.
        var rope = new YarnRope(Yarn(64, 4096));
        double[] f = rope.InverseFrequencies.ToArray();
        for (int i = 0; i < 32; i++)
        {
            double plain = Math.Pow(10000, -2.0 * i / 64);
            double expected = i <= 10 ? plain : i >= 23 ? plain / 40 : (plain / 40 * ((i - 10) / 13.0)) + (plain * (1 - ((i - 10) / 13.0)));
            Assert.Equal(expected, f[i], 1e-15);
        }
    }

    [Fact]
    public void Yarn_softmax_scale_is_multiplied_by_mscale_squared()
    {
        // qk_head_dim = 16 + 16 = 32; mscale = 0.1·ln 40 + 1.
        var rope = new YarnRope(Yarn(16, 100));
        double m = (0.1 * Math.Log(40)) + 1;
        Assert.Equal(1 / Math.Sqrt(32) * m * m, rope.SoftmaxScale, 1e-6);
    }

    [Fact]
    public void Yarn_with_mscale_equal_to_mscale_all_dim_leaves_cos_and_sin_unscaled()
    {
        var rope = new YarnRope(Yarn(16, 100));
        float[] cos = new float[8], sin = new float[8];
        rope.CosSin(5, cos, sin);
        for (int i = 0; i < 8; i++)
        {
            Assert.Equal(Math.Cos(5 * rope.InverseFrequencies[i]), cos[i], 1e-6);
            Assert.Equal(Math.Sin(5 * rope.InverseFrequencies[i]), sin[i], 1e-6);
        }
    }

    [Fact]
    public void Yarn_with_mscale_unlike_mscale_all_dim_scales_cos_and_sin_by_their_ratio()
    {
        // As transformers' _compute_yarn_parameters: attention_factor = get_mscale(factor, mscale) / get_mscale(factor, mscale_all_dim).
        var rope = new YarnRope(Yarn(16, 100, mscale: 1, mscaleAllDim: 0.5));
        double factor = ((0.1 * Math.Log(40)) + 1) / ((0.05 * Math.Log(40)) + 1);
        float[] cos = new float[8], sin = new float[8];
        rope.CosSin(0, cos, sin);
        Assert.All(cos, c => Assert.Equal(factor, c, 1e-6));
        Assert.All(sin, s => Assert.Equal(0, s));
    }
}
