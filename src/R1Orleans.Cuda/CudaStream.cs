using R1Orleans.Cuda.Native;

namespace R1Orleans.Cuda;

/// <summary>A CUDA stream (non-blocking): kernels and copies queued on it run in order.</summary>
public sealed class CudaStream : IDisposable
{
    private readonly CuStreamHandle _stream;

    internal CudaStream(CuStreamHandle stream) => _stream = stream;

    internal nint Handle => _stream.DangerousGetHandle();

    public void Synchronize() => CuDriver.Check(CuDriver.cuStreamSynchronize(Handle), "cuStreamSynchronize");

    public void Dispose() => _stream.Dispose();
}
