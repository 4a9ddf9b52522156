using R1Orleans.Cuda.Native;

namespace R1Orleans.Cuda;

/// <summary>A CUDA event, for timing device work between two records on a stream.</summary>
public sealed class CudaEvent : IDisposable
{
    private readonly CuEventHandle _event;

    internal CudaEvent(CuEventHandle evt) => _event = evt;

    internal nint Handle => _event.DangerousGetHandle();

    public void Record(CudaStream stream) => CuDriver.Check(CuDriver.cuEventRecord(Handle, stream.Handle), "cuEventRecord");

    /// <summary>Whether the work recorded before this event has finished (cuEventQuery; never waits).</summary>
    public bool IsComplete()
    {
        int status = CuDriver.cuEventQuery(Handle);
        if (status == CuDriver.CUDA_ERROR_NOT_READY)
        {
            return false;
        }

        CuDriver.Check(status, "cuEventQuery");
        return true;
    }

    public void Synchronize() => CuDriver.Check(CuDriver.cuEventSynchronize(Handle), "cuEventSynchronize");

    /// <summary>Milliseconds from <paramref name="start"/> to this event (both recorded, this one complete).</summary>
    public float ElapsedSince(CudaEvent start)
    {
        CuDriver.Check(CuDriver.cuEventElapsedTime(out float ms, start.Handle, Handle), "cuEventElapsedTime");
        return ms;
    }

    public void Dispose() => _event.Dispose();
}
