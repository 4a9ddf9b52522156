namespace R1Orleans.Interop.Ucx;

/// <summary>
/// Sends the one reply to a request, from any thread: either write the reply in place (<see cref="GetSpan"/> then
/// <see cref="Send()"/>, no copy) or hand over bytes (<see cref="Send(ReadOnlySpan{byte})"/>, one copy into a pooled
/// pinned buffer). <see cref="Fail"/> tells the caller the request could not be served.
/// </summary>
public sealed class ReplyWriter
{
    private readonly UcxNode _node;
    private byte[]? _buffer;
    private int _state;

    internal ReplyWriter(UcxNode node, UcxPeer peer, ulong correlationId)
    {
        _node = node;
        Peer = peer;
        CorrelationId = correlationId;
    }

    /// <summary>The peer that sent the request.</summary>
    public UcxPeer Peer { get; }

    internal ulong CorrelationId { get; }

    internal byte[]? Buffer => _buffer;

    internal int Length { get; private set; }

    internal bool Failed { get; private set; }

    /// <summary>True once the reply (or failure) was handed to the node.</summary>
    public bool IsCompleted => Volatile.Read(ref _state) == 2;

    /// <summary>A pooled pinned buffer of <paramref name="length"/> bytes to write the reply into.</summary>
    public Span<byte> GetSpan(int length)
    {
        if (Volatile.Read(ref _state) != 0 || _buffer is not null)
            throw new InvalidOperationException("the reply buffer was already taken or sent");
        _buffer = _node.BufferPool.Rent(length);
        Length = length;
        return _buffer.AsSpan(0, length);
    }

    /// <summary>Sends what was written into <see cref="GetSpan"/>.</summary>
    public void Send()
    {
        if (_buffer is null)
            throw new InvalidOperationException("call GetSpan before Send()");
        Complete();
    }

    /// <summary>Sends a copy of <paramref name="reply"/>.</summary>
    public void Send(ReadOnlySpan<byte> reply)
    {
        reply.CopyTo(GetSpan(reply.Length));
        Complete();
    }

    /// <summary>Tells the caller the request failed (it gets <see cref="RemoteHandlerException"/>).</summary>
    public void Fail()
    {
        if (_buffer is not null)
        {
            _node.BufferPool.Return(_buffer);
            _buffer = null;
        }
        Failed = true;
        Length = 0;
        Complete();
    }

    private void Complete()
    {
        if (Interlocked.CompareExchange(ref _state, 2, 0) != 0)
            throw new InvalidOperationException("the reply was already sent");
        _node.PostReply(this);
    }
}
