namespace R1Orleans.Interop.Ucx;

/// <summary>
/// A reply's bytes in a pooled pinned buffer, lent to the caller of <see cref="UcxNode.CallAsync"/>. Dispose it to
/// give the buffer back; the span must not be used afterwards.
/// </summary>
public sealed class ReplyLease : IDisposable
{
    private readonly PinnedBufferPool _pool;
    private byte[]? _buffer;

    internal ReplyLease(PinnedBufferPool pool, byte[] buffer, int length)
    {
        _pool = pool;
        _buffer = buffer;
        Length = length;
    }

    /// <summary>The reply's length in bytes.</summary>
    public int Length { get; }

    /// <summary>The reply's bytes.</summary>
    public ReadOnlySpan<byte> Span => (_buffer ?? throw new ObjectDisposedException(nameof(ReplyLease))).AsSpan(0, Length);

    /// <summary>The reply's bytes as memory (valid until disposed).</summary>
    public ReadOnlyMemory<byte> Memory =>
        (_buffer ?? throw new ObjectDisposedException(nameof(ReplyLease))).AsMemory(0, Length);

    /// <summary>Gives the buffer back to the pool.</summary>
    public void Dispose()
    {
        var buffer = Interlocked.Exchange(ref _buffer, null);
        if (buffer is not null)
            _pool.Return(buffer);
    }
}
