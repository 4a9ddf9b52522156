namespace R1Orleans.Cuda;

/// <summary>A CUDA library (the driver, NVRTC or NCCL) could not be loaded; the message says what to install.</summary>
public sealed class CudaUnavailableException : Exception
{
    public CudaUnavailableException(string message)
        : base(message)
    {
    }

    public CudaUnavailableException()
    {
    }

    public CudaUnavailableException(string message, Exception inner)
        : base(message, inner)
    {
    }
}
