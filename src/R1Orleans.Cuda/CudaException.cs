namespace R1Orleans.Cuda;

/// <summary>A CUDA driver or NVRTC call returned an error status; the message names the call, the status and its text.</summary>
public sealed class CudaException : Exception
{
    public CudaException(string call, int status, string statusName, string statusText)
        : base($"{call} failed: {statusName} ({status}): {statusText}")
    {
        Call = call;
        Status = status;
    }

    public CudaException(string message)
        : base(message)
    {
        Call = "";
    }

    public CudaException()
    {
        Call = "";
    }

    public CudaException(string message, Exception inner)
        : base(message, inner)
    {
        Call = "";
    }

    /// <summary>The native function that failed.</summary>
    public string Call { get; }

    /// <summary>The CUresult or nvrtcResult value.</summary>
    public int Status { get; }
}
