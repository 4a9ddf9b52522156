namespace R1Orleans.Cuda;

/// <summary>NVRTC rejected a kernel source; the message carries the compiler's log.</summary>
public sealed class KernelCompilationException : Exception
{
    public KernelCompilationException(string kernel, string architecture, string log)
        : base($"NVRTC could not compile {kernel} for {architecture}:{Environment.NewLine}{log}")
    {
        Log = log;
    }

    public KernelCompilationException()
    {
        Log = "";
    }

    public KernelCompilationException(string message)
        : base(message)
    {
        Log = "";
    }

    public KernelCompilationException(string message, Exception inner)
        : base(message, inner)
    {
        Log = "";
    }

    public string Log { get; }
}
