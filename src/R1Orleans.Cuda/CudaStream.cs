using R1Orleans.Cuda.Native;

namespace R1Orleans.Cuda;

/// <summary>A CUDA stream (non-blocking): kernels and copies queued on it run in order.</summary>
public sealed class CudaStream : IDisposable
{
    private readonly CuStreamHandle _stream;

    internal CudaStream(CuStreamHandle stream) => _stream = stream;

    internal nint Handle => _stream.DangerousGetHandle();

    /// <summary>
    /// Launches on this stream allow programmatic dependent launch (Hopper on; cuLaunchKernelEx with
    /// PROGRAMMATIC_STREAM_SERIALIZATION): a kernel may be launched while the one before it finishes, and waits for it in
    /// its first instruction (kernels/pdl.cuh, which every kernel starts with), so the launch latency between dependent
    /// kernels overlaps the previous kernel's tail. Captured into a graph as programmatic edges. Off: ordinary launches.
    /// </summary>
    public bool ProgrammaticSerialization { get; set; }

    public void Synchronize() => CuDriver.Check(CuDriver.cuStreamSynchronize(Handle), "cuStreamSynchronize");

    public void Dispose() => _stream.Dispose();
}
