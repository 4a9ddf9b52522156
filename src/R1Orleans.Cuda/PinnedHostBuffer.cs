using R1Orleans.Cuda.Native;

namespace R1Orleans.Cuda;

/// <summary>Page-locked host memory of a fixed size (<see cref="CudaContext.AllocatePinned"/>); freed when disposed.</summary>
public sealed unsafe class PinnedHostBuffer : IDisposable
{
    private readonly HostMemoryHandle _memory;

    internal PinnedHostBuffer(HostMemoryHandle memory, long bytes)
    {
        _memory = memory;
        Bytes = bytes;
    }

    public long Bytes { get; }

    /// <summary>The first <paramref name="count"/> values of type <typeparamref name="T"/>.</summary>
    public Span<T> AsSpan<T>(int count)
        where T : unmanaged
    {
        if (count < 0 || (long)count * sizeof(T) > Bytes)
        {
            throw new ArgumentOutOfRangeException(nameof(count), $"{count} values of {sizeof(T)} bytes; the buffer holds {Bytes} bytes");
        }

        ObjectDisposedException.ThrowIf(_memory.IsClosed, this);
        return new Span<T>((void*)_memory.DangerousGetHandle(), count);
    }

    public void Dispose() => _memory.Dispose();
}
