namespace R1Orleans.Interop.Ucx;

/// <summary>
/// Serves one request on the node's progress thread. <paramref name="request"/> is valid only during the call (it may
/// be UCX's own receive buffer): copy what is needed and return quickly; reply now or later, from any thread, through
/// <paramref name="reply"/> (exactly once; a request never replied to runs into the caller's deadline).
/// </summary>
public delegate void UcxRequestHandler(ReadOnlySpan<byte> request, ReplyWriter reply);
