namespace R1Orleans.Placement.Balancing;

/// <summary>
/// Splits each replicated expert's load among its holders so that the most loaded silo of a layer carries as little
/// as it can: starting from equal shares, each replicated expert (heaviest first) is taken out and poured back over
/// its holders by water-filling (the least loaded holders fill up to a common level), for a bounded number of passes.
/// Deterministic: fixed order, ties to the earlier replica.
/// </summary>
internal static class ReplicaWeightSolver
{
    private const int Passes = 8;

    /// <summary>
    /// Fills <paramref name="shares"/>[e][r] (the load of expert e that replica r takes, summing to w[e]) and returns
    /// the load per member. holders[e] lists member indexes, replica order.
    /// </summary>
    public static double[] Solve(int[][] holders, ReadOnlySpan<double> w, int members, double[][] shares)
    {
        var load = new double[members];
        int experts = holders.Length;
        for (int e = 0; e < experts; e++)
        {
            int n = holders[e].Length;
            shares[e] = new double[n];
            for (int r = 0; r < n; r++)
            {
                shares[e][r] = w[e] / n;
                load[holders[e][r]] += shares[e][r];
            }
        }

        double[] wc = w.ToArray();
        int[] replicated = [.. Enumerable.Range(0, experts).Where(e => holders[e].Length > 1 && wc[e] > 0).OrderByDescending(e => wc[e]).ThenBy(e => e)];
        if (replicated.Length == 0)
        {
            return load;
        }

        int maxReplicas = replicated.Max(e => holders[e].Length);
        var order = new int[maxReplicas];
        for (int pass = 0; pass < Passes; pass++)
        {
            foreach (int e in replicated)
            {
                int[] h = holders[e];
                double[] x = shares[e];
                int n = h.Length;
                for (int r = 0; r < n; r++)
                {
                    load[h[r]] -= x[r];
                    order[r] = r;
                }

                // Holders by current load (stable: the earlier replica first on ties).
                Span<int> sorted = order.AsSpan(0, n);
                for (int i = 1; i < n; i++)
                {
                    int v = sorted[i], j = i - 1;
                    while (j >= 0 && load[h[sorted[j]]] > load[h[v]])
                    {
                        sorted[j + 1] = sorted[j];
                        j--;
                    }

                    sorted[j + 1] = v;
                }

                // The water level: the first k holders rise to it, the rest are already above.
                double sum = 0, level = 0;
                for (int k = 0; k < n; k++)
                {
                    sum += load[h[sorted[k]]];
                    level = (w[e] + sum) / (k + 1);
                    if (k + 1 == n || level <= load[h[sorted[k + 1]]])
                    {
                        break;
                    }
                }

                for (int r = 0; r < n; r++)
                {
                    x[r] = Math.Max(0, level - load[h[r]]);
                }

                // Rounding: the shares sum to w[e] exactly enough, put any residue on the first filled replica.
                double total = x.Sum();
                if (total > 0)
                {
                    for (int r = 0; r < n; r++)
                    {
                        x[r] *= w[e] / total;
                    }
                }

                for (int r = 0; r < n; r++)
                {
                    load[h[r]] += x[r];
                }
            }
        }

        return load;
    }

    /// <summary>max / mean of a layer's member loads; 1 when the layer carries no load.</summary>
    public static double MaxOverMean(double[] load)
    {
        double max = 0, sum = 0;
        foreach (double v in load)
        {
            max = Math.Max(max, v);
            sum += v;
        }

        return sum > 0 ? max / (sum / load.Length) : 1;
    }
}
