using System.Collections.Concurrent;
using System.Numerics;

namespace R1Orleans.Interop.Ucx;

/// <summary>
/// A pool of byte arrays allocated on the pinned object heap, in power-of-two buckets from 256 B, so that UCX can
/// read and write them by address while the GC runs and the same buffers (already in UCX's registration cache)
/// come back call after call. Thread-safe.
/// </summary>
public sealed class PinnedBufferPool
{
    private const int MinShift = 8;
    private const int MaxShift = 30;
    private readonly ConcurrentBag<byte[]>[] _buckets;
    private readonly int _maxPerBucket;

    /// <summary>Creates a pool that keeps at most <paramref name="maxPerBucket"/> free buffers of each size.</summary>
    public PinnedBufferPool(int maxPerBucket = 32)
    {
        _maxPerBucket = maxPerBucket;
        _buckets = new ConcurrentBag<byte[]>[MaxShift - MinShift + 1];
        for (var i = 0; i < _buckets.Length; i++)
            _buckets[i] = [];
    }

    /// <summary>The process-wide pool.</summary>
    public static PinnedBufferPool Shared { get; } = new();

    /// <summary>A pinned array of at least <paramref name="length"/> bytes (its contents are not cleared).</summary>
    public byte[] Rent(int length)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        var shift = BucketShift(length);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(shift, MaxShift, nameof(length));
        return _buckets[shift - MinShift].TryTake(out var buffer)
            ? buffer
            : GC.AllocateUninitializedArray<byte>(1 << shift, pinned: true);
    }

    /// <summary>Gives a buffer from <see cref="Rent"/> back.</summary>
    public void Return(byte[] buffer)
    {
        ArgumentNullException.ThrowIfNull(buffer);
        if (!BitOperations.IsPow2(buffer.Length) || buffer.Length < 1 << MinShift)
            throw new ArgumentException("not a buffer of this pool", nameof(buffer));
        var bucket = _buckets[BitOperations.Log2((uint)buffer.Length) - MinShift];
        if (bucket.Count < _maxPerBucket)
            bucket.Add(buffer);
    }

    private static int BucketShift(int length) =>
        Math.Max(MinShift, length <= 1 ? 0 : 32 - BitOperations.LeadingZeroCount((uint)(length - 1)));
}
