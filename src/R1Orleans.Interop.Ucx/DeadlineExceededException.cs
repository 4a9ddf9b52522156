namespace R1Orleans.Interop.Ucx;

/// <summary>A call got no reply within its deadline; a reply that comes later is discarded.</summary>
public sealed class DeadlineExceededException : TimeoutException
{
    /// <summary>Creates the exception for a peer and the deadline it missed.</summary>
    public DeadlineExceededException(string peer, TimeSpan deadline)
        : base($"UCX peer '{peer}' did not reply within {deadline.TotalMilliseconds:0.###} ms")
    {
        Peer = peer;
        Deadline = deadline;
    }

    /// <summary>The peer's name.</summary>
    public string Peer { get; }

    /// <summary>The deadline of the call.</summary>
    public TimeSpan Deadline { get; }
}
