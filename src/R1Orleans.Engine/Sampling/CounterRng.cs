namespace R1Orleans.Engine.Sampling;

/// <summary>
/// A counter-based random source: the n-th draw of a request is a pure function of (seed, n). A request's RNG state is
/// therefore just its seed and the number of tokens it has sampled, which makes it serializable and lets another
/// silo continue a request with the same output after re-prefilling it.
/// </summary>
public static class CounterRng
{
    /// <summary>A uniform double in [0, 1) for draw number counter of the seed.</summary>
    public static double Uniform(ulong seed, long counter)
    {
        ulong z = Mix(seed ^ Mix(unchecked((ulong)counter + 0x9E3779B97F4A7C15UL)));
        return (z >> 11) * (1.0 / (1UL << 53));
    }

    /// <summary>SplitMix64's finalizer.</summary>
    public static ulong Mix(ulong z)
    {
        unchecked
        {
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
            return z ^ (z >> 31);
        }
    }
}
