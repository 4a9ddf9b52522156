namespace R1Orleans.Interop.Ucx;

/// <summary>The peer received the request but its handler threw or refused to reply; the message says which peer.</summary>
public sealed class RemoteHandlerException : Exception
{
    /// <summary>Creates the exception for a peer.</summary>
    public RemoteHandlerException(string peer)
        : base($"UCX peer '{peer}' failed to handle the request")
    {
        Peer = peer;
    }

    /// <summary>The peer's name.</summary>
    public string Peer { get; }
}
