namespace R1Orleans.Cuda.Nccl;

/// <summary>
/// An NCCL call returned an error, or a communicator reported one asynchronously: the message names the call, the
/// ncclResult_t name and value, NCCL's text for it and the library's last error message.
/// </summary>
public sealed class NcclException : Exception
{
    public NcclException(string call, int status, string statusName, string statusText, string lastError)
        : base($"{call} failed: {statusName} ({status}): {statusText}" + (string.IsNullOrWhiteSpace(lastError) ? "" : $"; NCCL's last error: {lastError}"))
    {
        Call = call;
        Status = status;
        LastError = lastError;
    }

    public NcclException(string message)
        : base(message)
    {
        Call = "";
        LastError = "";
    }

    public NcclException()
    {
        Call = "";
        LastError = "";
    }

    public NcclException(string message, Exception inner)
        : base(message, inner)
    {
        Call = "";
        LastError = "";
    }

    /// <summary>The NCCL function that failed (for an asynchronous error, the one whose wait saw it).</summary>
    public string Call { get; }

    /// <summary>The ncclResult_t value.</summary>
    public int Status { get; }

    /// <summary>ncclGetLastError's text at the time of the failure (may be empty).</summary>
    public string LastError { get; }
}
