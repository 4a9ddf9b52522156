using R1Orleans.Checkpoint;

namespace R1Orleans.Model;

/// <summary>
/// Rotary position embedding on interleaved pairs (0,1),(2,3)… of the qk_rope_head_dim slice, with YaRN frequency
/// interpolation when rope_scaling is set. Also owns MLA's softmax scale, which YaRN's mscale changes.
/// </summary>
public sealed class YarnRope
{
    private readonly double[] _invFreq;
    private readonly double _attentionFactor;

    public YarnRope(ModelConfig c)
    {
        int d = c.QkRopeHeadDim;
        Dim = d;
        _invFreq = new double[d / 2];
        for (int i = 0; i < d / 2; i++)
        {
            _invFreq[i] = Math.Pow(c.RopeTheta, -2.0 * i / d);
        }

        double softmaxScale = 1.0 / Math.Sqrt(c.QkHeadDim);
        _attentionFactor = 1.0;
        if (c.RopeScaling is { } y)
        {
            ApplyYarn(_invFreq, d, c.RopeTheta, y);
            if (y.MscaleAllDim != 0)
            {
                double m = Mscale(y.Factor, y.MscaleAllDim);
                softmaxScale *= m * m;
            }

            // cos/sin scale: 1 when mscale == mscale_all_dim (DeepSeek-V3), as transformers computes it otherwise.
            _attentionFactor = y.Mscale != 0 && y.MscaleAllDim != 0
                ? Mscale(y.Factor, y.Mscale) / Mscale(y.Factor, y.MscaleAllDim)
                : Mscale(y.Factor, 1);
        }

        SoftmaxScale = (float)softmaxScale;
    }

    public int Dim { get; }

    public float SoftmaxScale { get; }

    public ReadOnlySpan<double> InverseFrequencies => _invFreq;

    /// <summary>What cos and sin are multiplied by (YaRN's mscale ratio; 1 without rope_scaling or for DeepSeek-V3).</summary>
    public double AttentionFactor => _attentionFactor;

    public static double Mscale(double factor, double mscale) => factor <= 1 ? 1.0 : (0.1 * mscale * Math.Log(factor)) + 1.0;

    /// <summary>YaRN: f_i ← f_i/factor · ramp_i + f_i · (1 − ramp_i), ramp between the beta_fast and beta_slow correction dims.</summary>
    public static void ApplyYarn(double[] invFreq, int d, double theta, YarnScaling y)
    {
        double Corr(double r) => d * Math.Log(y.OriginalMaxPositionEmbeddings / (2 * Math.PI * r)) / (2 * Math.Log(theta));
        double lo = Math.Max(Math.Floor(Corr(y.BetaFast)), 0);
        double hi = Math.Min(Math.Ceiling(Corr(y.BetaSlow)), d - 1);
        if (lo == hi)
        {
            hi += 0.001;
        }

        for (int i = 0; i < invFreq.Length; i++)
        {
            double ramp = Math.Clamp((i - lo) / (hi - lo), 0, 1);
            invFreq[i] = (invFreq[i] / y.Factor * ramp) + (invFreq[i] * (1 - ramp));
        }
    }

    /// <summary>Fills cos and sin [Dim / 2] for a position (already multiplied by the attention factor).</summary>
    public void CosSin(int position, Span<float> cos, Span<float> sin)
    {
        for (int i = 0; i < _invFreq.Length; i++)
        {
            double angle = position * _invFreq[i];
            cos[i] = (float)(Math.Cos(angle) * _attentionFactor);
            sin[i] = (float)(Math.Sin(angle) * _attentionFactor);
        }
    }

    /// <summary>Rotates the interleaved pairs of one rope slice in place.</summary>
    public static void Rotate(Span<float> x, ReadOnlySpan<float> cos, ReadOnlySpan<float> sin)
    {
        for (int i = 0; i < cos.Length; i++)
        {
            float a = x[2 * i];
            float b = x[(2 * i) + 1];
            x[2 * i] = (a * cos[i]) - (b * sin[i]);
            x[(2 * i) + 1] = (b * cos[i]) + (a * sin[i]);
        }
    }
}
