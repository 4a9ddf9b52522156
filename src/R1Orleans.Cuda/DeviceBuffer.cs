using R1Orleans.Cuda.Native;

namespace R1Orleans.Cuda;

/// <summary>Device memory of a fixed size; copies to and from host spans are synchronous and bounds-checked.</summary>
public sealed unsafe class DeviceBuffer : IDisposable
{
    private readonly DeviceMemoryHandle _memory;

    internal DeviceBuffer(DeviceMemoryHandle memory, long bytes)
    {
        _memory = memory;
        Bytes = bytes;
    }

    public long Bytes { get; }

    /// <summary>The CUdeviceptr.</summary>
    public ulong Pointer => (ulong)_memory.DangerousGetHandle();

    public void Upload<T>(ReadOnlySpan<T> source, long byteOffset = 0)
        where T : unmanaged
    {
        long n = (long)source.Length * sizeof(T);
        CheckRange(byteOffset, n);
        fixed (T* p = source)
        {
            CuDriver.Check(CuDriver.cuMemcpyHtoD_v2(Pointer + (ulong)byteOffset, p, (nuint)n), "cuMemcpyHtoD");
        }
    }

    public void Download<T>(Span<T> destination, long byteOffset = 0)
        where T : unmanaged
    {
        long n = (long)destination.Length * sizeof(T);
        CheckRange(byteOffset, n);
        fixed (T* p = destination)
        {
            CuDriver.Check(CuDriver.cuMemcpyDtoH_v2(p, Pointer + (ulong)byteOffset, (nuint)n), "cuMemcpyDtoH");
        }
    }

    /// <summary>
    /// Queues a copy from host memory on <paramref name="stream"/>, ordered with the stream's kernels. The source may be
    /// pageable: the driver stages it before returning, so the span need not outlive the call.
    /// </summary>
    public void UploadAsync<T>(ReadOnlySpan<T> source, CudaStream stream, long byteOffset = 0)
        where T : unmanaged
    {
        long n = (long)source.Length * sizeof(T);
        CheckRange(byteOffset, n);
        fixed (T* p = source)
        {
            CuDriver.Check(CuDriver.cuMemcpyHtoDAsync_v2(Pointer + (ulong)byteOffset, p, (nuint)n, stream.Handle), "cuMemcpyHtoDAsync");
        }
    }

    /// <summary>Copies to host memory after the stream's queued work; returns once the bytes are in <paramref name="destination"/>.</summary>
    public void DownloadAfter<T>(Span<T> destination, CudaStream stream, long byteOffset = 0)
        where T : unmanaged
    {
        long n = (long)destination.Length * sizeof(T);
        CheckRange(byteOffset, n);
        fixed (T* p = destination)
        {
            CuDriver.Check(CuDriver.cuMemcpyDtoHAsync_v2(p, Pointer + (ulong)byteOffset, (nuint)n, stream.Handle), "cuMemcpyDtoHAsync");
            stream.Synchronize();
        }
    }

    /// <summary>Fills every 32-bit word with <paramref name="bits"/> (e.g. a NaN pattern to poison outputs).</summary>
    public void Fill32(uint bits)
    {
        if (Bytes % 4 != 0)
        {
            throw new InvalidOperationException($"Fill32 needs a multiple of 4 bytes, buffer has {Bytes}");
        }

        CuDriver.Check(CuDriver.cuMemsetD32_v2(Pointer, bits, (nuint)(Bytes / 4)), "cuMemsetD32");
    }

    /// <summary>Queues a fill of every 32-bit word with <paramref name="bits"/> on a stream.</summary>
    public void Fill32Async(uint bits, CudaStream stream)
    {
        if (Bytes % 4 != 0)
        {
            throw new InvalidOperationException($"Fill32 needs a multiple of 4 bytes, buffer has {Bytes}");
        }

        CuDriver.Check(CuDriver.cuMemsetD32Async(Pointer, bits, (nuint)(Bytes / 4), stream.Handle), "cuMemsetD32Async");
    }

    public void Fill8(byte value) => CuDriver.Check(CuDriver.cuMemsetD8_v2(Pointer, value, (nuint)Bytes), "cuMemsetD8");

    /// <summary>Queues a copy of <paramref name="bytes"/> from a device address (its owner checks its range) to <paramref name="offset"/> here.</summary>
    public void CopyFromAsync(ulong source, long bytes, CudaStream stream, long offset)
    {
        CheckRange(offset, bytes);
        CuDriver.Check(CuDriver.cuMemcpyDtoDAsync_v2(Pointer + (ulong)offset, source, (nuint)bytes, stream.Handle), "cuMemcpyDtoDAsync");
    }

    /// <summary>Queues a device-to-device copy of <paramref name="bytes"/> from <paramref name="source"/> on a stream.</summary>
    public void CopyFromAsync(DeviceBuffer source, long bytes, CudaStream stream)
    {
        CheckRange(0, bytes);
        source.CheckRange(0, bytes);
        CuDriver.Check(CuDriver.cuMemcpyDtoDAsync_v2(Pointer, source.Pointer, (nuint)bytes, stream.Handle), "cuMemcpyDtoDAsync");
    }

    public T[] Download<T>(int count)
        where T : unmanaged
    {
        var a = new T[count];
        Download<T>(a);
        return a;
    }

    public void Dispose() => _memory.Dispose();

    private void CheckRange(long offset, long length)
    {
        if (offset < 0 || length < 0 || offset + length > Bytes)
        {
            throw new ArgumentOutOfRangeException(nameof(offset), $"bytes [{offset}, {offset + length}) are outside this {Bytes}-byte device buffer");
        }
    }
}
