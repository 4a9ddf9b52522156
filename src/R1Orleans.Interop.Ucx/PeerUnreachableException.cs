namespace R1Orleans.Interop.Ucx;

/// <summary>
/// A call failed because its peer is gone: UCX reported the endpoint failed (the process died, the connection was
/// reset) or the request could not be sent. The peer will not answer on this endpoint again.
/// </summary>
public sealed class PeerUnreachableException : Exception
{
    /// <summary>Creates the exception for a peer and the reason UCX gave.</summary>
    public PeerUnreachableException(string peer, string reason)
        : base($"UCX peer '{peer}' is unreachable: {reason}")
    {
        Peer = peer;
        Reason = reason;
    }

    /// <summary>The peer's name.</summary>
    public string Peer { get; }

    /// <summary>Why (UCX's status text or the failed step).</summary>
    public string Reason { get; }
}
