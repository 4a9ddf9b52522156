using System.Buffers;

namespace R1Orleans.Interop.Ucx;

/// <summary>One outstanding <see cref="UcxNode.CallAsync"/>: its correlation id, peer, deadline and completion.</summary>
internal sealed class PendingCall
{
    public PendingCall(ulong id, UcxPeer peer, ReadOnlyMemory<byte> request, TimeSpan deadline, long deadlineTimestamp,
        CancellationToken cancellationToken)
    {
        CancellationToken = cancellationToken;
        Id = id;
        Peer = peer;
        Request = request;
        Deadline = deadline;
        DeadlineTimestamp = deadlineTimestamp;
    }

    public ulong Id { get; }

    public UcxPeer Peer { get; }

    public ReadOnlyMemory<byte> Request { get; }

    public TimeSpan Deadline { get; }

    /// <summary>Stopwatch timestamp at which the call fails with <see cref="DeadlineExceededException"/>.</summary>
    public long DeadlineTimestamp { get; }

    public CancellationToken CancellationToken { get; }

    public TaskCompletionSource<ReplyLease> Completion { get; } =
        new(TaskCreationOptions.RunContinuationsAsynchronously);

    public CancellationTokenRegistration Cancellation { get; set; }

    public void Fail(Exception error)
    {
        if (Completion.TrySetException(error))
            Cancellation.Dispose();
    }

    public bool Succeed(ReplyLease reply)
    {
        if (!Completion.TrySetResult(reply))
            return false;
        Cancellation.Dispose();
        return true;
    }
}

/// <summary>A send or receive UCX owns until its completion callback: what to release then.</summary>
internal sealed class TransferOp
{
    public TransferOp(long id) => Id = id;

    public long Id { get; }

    /// <summary>The 16-byte native header of a send (freed on completion).</summary>
    public nint Header { get; set; }

    /// <summary>The pin of a caller's request memory (released on completion).</summary>
    public MemoryHandle Pin { get; set; }

    /// <summary>A pooled buffer sent or received into (returned on completion unless handed on).</summary>
    public byte[]? Buffer { get; set; }

    public int Length { get; set; }

    /// <summary>The call a request send or reply receive belongs to.</summary>
    public PendingCall? Call { get; set; }

    /// <summary>For a request received by rendezvous: who sent it and its correlation id.</summary>
    public UcxPeer? Peer { get; set; }

    public ulong CorrelationId { get; set; }

    public TransferKind Kind { get; set; }
}

/// <summary>What a <see cref="TransferOp"/> carries.</summary>
internal enum TransferKind
{
    HelloSend,
    RequestSend,
    ReplySend,
    RequestReceive,
    ReplyReceive,
}
