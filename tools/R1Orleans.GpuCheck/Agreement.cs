namespace R1Orleans.GpuCheck;

/// <summary>
/// How far a GPU result is from its reference: ‖out − ref‖₂ / ‖ref‖₂, the largest absolute difference, and the count of
/// non-finite outputs (a NaN from the poison means an element was never written; NaN never passes).
/// </summary>
public sealed record Agreement(double RelativeL2, double MaxAbsDifference, long NonFinite, long Count)
{
    public static Agreement Of(ReadOnlySpan<float> actual, ReadOnlySpan<float> expected)
    {
        if (actual.Length != expected.Length)
        {
            throw new ArgumentException($"comparing {actual.Length} values with {expected.Length}");
        }

        double diff2 = 0, ref2 = 0, maxAbs = 0;
        long nonFinite = 0;
        for (int i = 0; i < actual.Length; i++)
        {
            if (!float.IsFinite(actual[i]))
            {
                nonFinite++;
                continue;
            }

            double d = (double)actual[i] - expected[i];
            diff2 += d * d;
            ref2 += (double)expected[i] * expected[i];
            maxAbs = Math.Max(maxAbs, Math.Abs(d));
        }

        double rel = ref2 > 0 ? Math.Sqrt(diff2 / ref2) : Math.Sqrt(diff2);
        return new Agreement(rel, maxAbs, nonFinite, actual.Length);
    }

    /// <summary>True when every output is finite and the relative L2 error is within <paramref name="tolerance"/>.</summary>
    public bool Passes(double tolerance) => NonFinite == 0 && Count > 0 && RelativeL2 <= tolerance;
}
