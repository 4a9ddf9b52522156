namespace R1Orleans.Cuda;

/// <summary>Host-to-host copies of large float arrays (a step's logits out of page-locked staging) in parallel slices.</summary>
public static class HostCopy
{
    /// <summary>Floats one task copies.</summary>
    public const int Slice = 1 << 20;

    /// <summary>
    /// Copies <paramref name="source"/> into <paramref name="destination"/> (the same length), in slices of
    /// <paramref name="slice"/> floats on the thread pool when there is more than one.
    /// </summary>
    public static unsafe void Copy(ReadOnlySpan<float> source, Span<float> destination, int slice = Slice)
    {
        if (source.Length != destination.Length)
        {
            throw new ArgumentException($"copying {source.Length} floats into {destination.Length}");
        }

        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(slice);
        int length = source.Length, slices = (int)(((long)length + slice - 1) / slice);
        if (slices <= 1)
        {
            source.CopyTo(destination);
            return;
        }

        fixed (float* s = source)
        fixed (float* d = destination)
        {
            nint src = (nint)s, dst = (nint)d;
            Parallel.For(0, slices, i =>
            {
                int start = i * slice, n = Math.Min(slice, length - start);
                new ReadOnlySpan<float>((float*)src + start, n).CopyTo(new Span<float>((float*)dst + start, n));
            });
        }
    }
}
