using System.Text;
using R1Orleans.Cuda.Native;

namespace R1Orleans.Cuda;

/// <summary>
/// One opened CUDA device: its primary context (retained, current on the opening thread), its properties, and the
/// factory for device memory, streams, events and modules. Dispose releases the primary context.
/// </summary>
public sealed unsafe class CudaContext : IDisposable
{
    private readonly PrimaryContextHandle _context;

    private CudaContext(PrimaryContextHandle context, int ordinal, string name, ComputeCapability cc, int sms, long totalBytes, int driverVersion)
    {
        _context = context;
        Ordinal = ordinal;
        Name = name;
        ComputeCapability = cc;
        MultiprocessorCount = sms;
        TotalMemoryBytes = totalBytes;
        DriverVersion = driverVersion;
    }

    public int Ordinal { get; }

    public string Name { get; }

    public ComputeCapability ComputeCapability { get; }

    public int MultiprocessorCount { get; }

    public long TotalMemoryBytes { get; }

    /// <summary>The driver's CUDA version, e.g. 13000 for 13.0.</summary>
    public int DriverVersion { get; }

    internal nint Handle => _context.DangerousGetHandle();

    /// <summary>How many CUDA devices the driver sees; throws <see cref="CudaUnavailableException"/> without a driver.</summary>
    public static int DeviceCount()
    {
        CudaLibraries.LoadDriver();
        CuDriver.Check(CuDriver.cuInit(0), "cuInit");
        CuDriver.Check(CuDriver.cuDeviceGetCount(out int count), "cuDeviceGetCount");
        return count;
    }

    /// <summary>
    /// Opens device <paramref name="ordinal"/> (cuda:N). Throws <see cref="CudaUnavailableException"/> at once when no
    /// driver is installed, and <see cref="CudaException"/> when the driver fails or the device does not exist.
    /// </summary>
    public static CudaContext Open(int ordinal)
    {
        CudaLibraries.LoadDriver();
        CuDriver.Check(CuDriver.cuInit(0), "cuInit");
        CuDriver.Check(CuDriver.cuDriverGetVersion(out int version), "cuDriverGetVersion");
        CuDriver.Check(CuDriver.cuDeviceGetCount(out int count), "cuDeviceGetCount");
        if (ordinal < 0 || ordinal >= count)
        {
            throw new CudaException($"cuda:{ordinal} does not exist: the driver sees {count} device(s)");
        }

        CuDriver.Check(CuDriver.cuDeviceGet(out int device, ordinal), "cuDeviceGet");
        byte* name = stackalloc byte[256];
        CuDriver.Check(CuDriver.cuDeviceGetName(name, 256, device), "cuDeviceGetName");
        int major = Attribute(device, CuDriver.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR);
        int minor = Attribute(device, CuDriver.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR);
        int sms = Attribute(device, CuDriver.CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT);
        CuDriver.Check(CuDriver.cuDeviceTotalMem_v2(out nuint total, device), "cuDeviceTotalMem");
        CuDriver.Check(CuDriver.cuDevicePrimaryCtxRetain(out nint ctx, device), "cuDevicePrimaryCtxRetain");
        var handle = new PrimaryContextHandle(ctx, device);
        try
        {
            CuDriver.Check(CuDriver.cuCtxSetCurrent(ctx), "cuCtxSetCurrent");
        }
        catch
        {
            handle.Dispose();
            throw;
        }

        string text = Encoding.UTF8.GetString(new ReadOnlySpan<byte>(name, 256)).TrimEnd('\0');
        return new CudaContext(handle, ordinal, text, new ComputeCapability(major, minor), sms, (long)total, version);
    }

    /// <summary>Makes this context current on the calling thread (driver calls act on the current context).</summary>
    public void MakeCurrent() => CuDriver.Check(CuDriver.cuCtxSetCurrent(Handle), "cuCtxSetCurrent");

    public void Synchronize() => CuDriver.Check(CuDriver.cuCtxSynchronize(), "cuCtxSynchronize");

    public (long Free, long Total) MemoryInfo()
    {
        CuDriver.Check(CuDriver.cuMemGetInfo_v2(out nuint free, out nuint total), "cuMemGetInfo");
        return ((long)free, (long)total);
    }

    public DeviceBuffer Allocate(long bytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(bytes);
        CuDriver.Check(CuDriver.cuMemAlloc_v2(out ulong p, (nuint)bytes), $"cuMemAlloc({bytes} bytes)");
        return new DeviceBuffer(new DeviceMemoryHandle(p, Handle), bytes);
    }

    /// <summary>
    /// Page-locked host memory (cuMemHostAlloc): device-to-host copies into it run at the link's rate, where a copy into
    /// pageable memory is staged by the driver page by page.
    /// </summary>
    public PinnedHostBuffer AllocatePinned(long bytes)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(bytes);
        CuDriver.Check(CuDriver.cuMemHostAlloc(out nint p, (nuint)bytes, 0), $"cuMemHostAlloc({bytes} bytes)");
        return new PinnedHostBuffer(new HostMemoryHandle(p, Handle), bytes);
    }

    public CudaStream CreateStream()
    {
        CuDriver.Check(CuDriver.cuStreamCreate(out nint s, CuDriver.CU_STREAM_NON_BLOCKING), "cuStreamCreate");
        return new CudaStream(new CuStreamHandle(s));
    }

    public CudaEvent CreateEvent()
    {
        CuDriver.Check(CuDriver.cuEventCreate(out nint e, CuDriver.CU_EVENT_DEFAULT), "cuEventCreate");
        return new CudaEvent(new CuEventHandle(e));
    }

    /// <summary>Loads a CUBIN (or PTX) image produced by <see cref="KernelCompiler"/>.</summary>
    public CudaModule LoadModule(byte[] image, string name)
    {
        fixed (byte* p = image)
        {
            CuDriver.Check(CuDriver.cuModuleLoadData(out nint m, p), $"cuModuleLoadData({name})");
            return new CudaModule(new CuModuleHandle(m), name);
        }
    }

    public void Dispose() => _context.Dispose();

    private static int Attribute(int device, int attribute)
    {
        CuDriver.Check(CuDriver.cuDeviceGetAttribute(out int v, attribute, device), $"cuDeviceGetAttribute({attribute})");
        return v;
    }
}
