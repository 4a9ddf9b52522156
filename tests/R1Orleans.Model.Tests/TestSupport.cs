using R1Orleans.Backend;
using R1Orleans.Checkpoint;

namespace R1Orleans.Model.Tests;

/// <summary>A fresh directory under the system temp folder, deleted on dispose.</summary>
internal sealed class TempDirectory : IDisposable
{
    public TempDirectory()
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "r1o-model-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path);
    }

    public string Path { get; }

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}

/// <summary>Seeded random data for tests.</summary>
internal static class TestData
{
    /// <summary>count values uniform in [-scale, scale).</summary>
    public static float[] Floats(int seed, int count, float scale = 1f)
    {
        var rng = new Random(seed);
        var v = new float[count];
        for (int i = 0; i < count; i++)
        {
            v[i] = (float)(((rng.NextDouble() * 2) - 1) * scale);
        }

        return v;
    }

    public static Matrix Matrix(int seed, int rows, int cols, float scale = 1f) => new(rows, cols, Floats(seed, rows * cols, scale));

    /// <summary>max |a − b| / max |b|: the golden-check metric.</summary>
    public static double RelativeMaxError(ReadOnlySpan<float> actual, ReadOnlySpan<float> expected)
    {
        Assert.Equal(expected.Length, actual.Length);
        double diff = 0, max = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            diff = Math.Max(diff, Math.Abs((double)actual[i] - expected[i]));
            max = Math.Max(max, Math.Abs((double)expected[i]));
        }

        return max == 0 ? diff : diff / max;
    }

    public static void AssertClose(ReadOnlySpan<float> actual, ReadOnlySpan<double> expected, double tolerance)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
        {
            if (Math.Abs(actual[i] - expected[i]) > tolerance)
            {
                Assert.Fail($"index {i}: expected {expected[i]:R}, got {actual[i]:R} (tolerance {tolerance})");
            }
        }
    }
}

/// <summary>Hand-built configs: every field set, so a test states the numbers it depends on.</summary>
internal static class TestConfigs
{
    /// <summary>A small DeepSeek-V3-shaped config; tests override what they exercise with <c>with</c>.</summary>
    public static ModelConfig Small() => new()
    {
        ModelType = "deepseek_v3",
        VocabSize = 64,
        HiddenSize = 32,
        IntermediateSize = 48,
        MoeIntermediateSize = 16,
        NumHiddenLayers = 3,
        NumAttentionHeads = 2,
        NRoutedExperts = 8,
        NSharedExperts = 1,
        NumExpertsPerTok = 2,
        NGroup = 4,
        TopkGroup = 2,
        TopkMethod = "noaux_tc",
        ScoringFunc = "sigmoid",
        NormTopkProb = true,
        RoutedScalingFactor = 2.5,
        FirstKDenseReplace = 1,
        MoeLayerFreq = 1,
        QLoraRank = 24,
        KvLoraRank = 16,
        QkNopeHeadDim = 8,
        QkRopeHeadDim = 8,
        VHeadDim = 8,
        RmsNormEps = 1e-6,
        RopeTheta = 10000,
        RopeScaling = null,
        MaxPositionEmbeddings = 256,
        NumNextnPredictLayers = 0,
        Quantization = null,
        BosTokenId = 0,
        EosTokenId = 1,
    };
}

/// <summary>Plain float64 references for the backend's kernels.</summary>
internal static class Reference
{
    public static double[] Linear(float[] x, int n, Matrix w)
    {
        var y = new double[n * w.Rows];
        for (int i = 0; i < n; i++)
        {
            for (int j = 0; j < w.Rows; j++)
            {
                double s = 0;
                for (int k = 0; k < w.Cols; k++)
                {
                    s += (double)x[(i * w.Cols) + k] * w.Data[(j * w.Cols) + k];
                }

                y[(i * w.Rows) + j] = s;
            }
        }

        return y;
    }

    /// <summary>Causal MLA-style attention of the same layout as <see cref="AttentionProblem"/>, in float64.</summary>
    public static double[] Attention(
        float[] q, float[] kv, float[] keyRope, int krStride, int krOffset,
        int queries, int first, int heads, int nope, int rope, int vd, double scale)
    {
        var output = new double[queries * heads * vd];
        for (int i = 0; i < queries; i++)
        {
            int count = first + i + 1;
            for (int h = 0; h < heads; h++)
            {
                var scores = new double[count];
                for (int u = 0; u < count; u++)
                {
                    double s = 0;
                    for (int j = 0; j < nope; j++)
                    {
                        s += (double)q[(((i * heads) + h) * (nope + rope)) + j] * kv[(((u * heads) + h) * (nope + vd)) + j];
                    }

                    for (int j = 0; j < rope; j++)
                    {
                        s += (double)q[(((i * heads) + h) * (nope + rope)) + nope + j] * keyRope[(u * krStride) + krOffset + j];
                    }

                    scores[u] = s * scale;
                }

                double[] p = Softmax(scores);
                for (int u = 0; u < count; u++)
                {
                    for (int j = 0; j < vd; j++)
                    {
                        output[(((i * heads) + h) * vd) + j] += p[u] * kv[(((u * heads) + h) * (nope + vd)) + nope + j];
                    }
                }
            }
        }

        return output;
    }

    /// <summary>Absorbed attention against latents [keys, latent + rope], in float64.</summary>
    public static double[] LatentAttention(float[] q, float[] latent, int queries, int first, int heads, int latentDim, int rope, double scale)
    {
        int width = latentDim + rope;
        var output = new double[queries * heads * latentDim];
        for (int i = 0; i < queries; i++)
        {
            int count = first + i + 1;
            for (int h = 0; h < heads; h++)
            {
                var scores = new double[count];
                for (int u = 0; u < count; u++)
                {
                    double s = 0;
                    for (int j = 0; j < width; j++)
                    {
                        s += (double)q[(((i * heads) + h) * width) + j] * latent[(u * width) + j];
                    }

                    scores[u] = s * scale;
                }

                double[] p = Softmax(scores);
                for (int u = 0; u < count; u++)
                {
                    for (int j = 0; j < latentDim; j++)
                    {
                        output[(((i * heads) + h) * latentDim) + j] += p[u] * latent[(u * width) + j];
                    }
                }
            }
        }

        return output;
    }

    public static double[] Softmax(double[] s)
    {
        double max = s.Max();
        double[] e = s.Select(v => Math.Exp(v - max)).ToArray();
        double sum = e.Sum();
        return e.Select(v => v / sum).ToArray();
    }
}
