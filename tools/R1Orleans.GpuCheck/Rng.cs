namespace R1Orleans.GpuCheck;

/// <summary>Seeded random inputs for checks and benchmarks.</summary>
public static class Rng
{
    public static float[] Uniform(Random r, int n, float lo, float hi)
    {
        var a = new float[n];
        for (int i = 0; i < n; i++)
        {
            a[i] = lo + ((hi - lo) * r.NextSingle());
        }

        return a;
    }

    /// <summary>Top-k routing: <paramref name="topK"/> distinct experts per token, weights positive and summing to 1.</summary>
    public static (int[] Ids, float[] Weights) Routing(Random r, int tokens, int topK, int experts)
    {
        var ids = new int[tokens * topK];
        var weights = new float[tokens * topK];
        int[] perm = Enumerable.Range(0, experts).ToArray();
        for (int t = 0; t < tokens; t++)
        {
            r.Shuffle(perm);
            float sum = 0;
            for (int k = 0; k < topK; k++)
            {
                ids[(t * topK) + k] = perm[k];
                weights[(t * topK) + k] = 0.1f + r.NextSingle();
                sum += weights[(t * topK) + k];
            }

            for (int k = 0; k < topK; k++)
            {
                weights[(t * topK) + k] /= sum;
            }
        }

        return (ids, weights);
    }
}
