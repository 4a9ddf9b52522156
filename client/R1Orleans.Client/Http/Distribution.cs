namespace R1Orleans.Client.Http;

/// <summary>Percentiles by linear interpolation between closest ranks (numpy's default; rank p/100·(n−1)).</summary>
public static class Percentile
{
    /// <summary>The <paramref name="p"/>-th percentile (0..100) of values sorted ascending.</summary>
    public static double OfSorted(IReadOnlyList<double> sorted, double p)
    {
        ArgumentOutOfRangeException.ThrowIfZero(sorted.Count, nameof(sorted));
        if (p is < 0 or > 100 || double.IsNaN(p))
        {
            throw new ArgumentOutOfRangeException(nameof(p), p, "percentile must be in [0, 100]");
        }

        double rank = p / 100 * (sorted.Count - 1);
        int lo = (int)Math.Floor(rank);
        int hi = Math.Min(lo + 1, sorted.Count - 1);
        double frac = rank - lo;
        return sorted[lo] + ((sorted[hi] - sorted[lo]) * frac);
    }

    /// <summary>The percentile of values in any order.</summary>
    public static double Of(IEnumerable<double> values, double p)
    {
        double[] sorted = values.ToArray();
        Array.Sort(sorted);
        return OfSorted(sorted, p);
    }
}

/// <summary>Summary of a sample: count, mean, standard deviation, min, p50, p90, p99, max (all in the sample's unit).</summary>
public sealed record Distribution(int Count, double Mean, double StdDev, double Min, double P50, double P90, double P99, double Max)
{
    /// <summary>The summary of <paramref name="values"/>, or null when there are none.</summary>
    public static Distribution? From(IEnumerable<double> values)
    {
        double[] v = values.ToArray();
        if (v.Length == 0)
        {
            return null;
        }

        Array.Sort(v);
        double mean = v.Average();
        double variance = v.Length > 1 ? v.Sum(x => (x - mean) * (x - mean)) / (v.Length - 1) : 0;
        return new Distribution(v.Length, mean, Math.Sqrt(variance), v[0], Percentile.OfSorted(v, 50), Percentile.OfSorted(v, 90), Percentile.OfSorted(v, 99), v[^1]);
    }

    /// <summary>The same summary with every value multiplied (seconds to milliseconds: 1000).</summary>
    public Distribution Scale(double factor) =>
        new(Count, Mean * factor, StdDev * factor, Min * factor, P50 * factor, P90 * factor, P99 * factor, Max * factor);
}
