using System.Runtime.InteropServices;

namespace R1Orleans.Cuda.Native;

/// <summary>A retained primary context of one device; released (cuDevicePrimaryCtxRelease) when disposed.</summary>
internal sealed class PrimaryContextHandle : SafeHandle
{
    public PrimaryContextHandle(nint context, int device)
        : base(0, ownsHandle: true)
    {
        SetHandle(context);
        Device = device;
    }

    public int Device { get; }

    public override bool IsInvalid => handle == 0;

    protected override bool ReleaseHandle() => CuDriver.cuDevicePrimaryCtxRelease_v2(Device) == 0;
}

/// <summary>A CUstream; destroyed when disposed.</summary>
internal sealed class CuStreamHandle : SafeHandle
{
    public CuStreamHandle(nint stream)
        : base(0, ownsHandle: true) => SetHandle(stream);

    public override bool IsInvalid => handle == 0;

    protected override bool ReleaseHandle() => CuDriver.cuStreamDestroy_v2(handle) == 0;
}

/// <summary>A CUevent; destroyed when disposed.</summary>
internal sealed class CuEventHandle : SafeHandle
{
    public CuEventHandle(nint evt)
        : base(0, ownsHandle: true) => SetHandle(evt);

    public override bool IsInvalid => handle == 0;

    protected override bool ReleaseHandle() => CuDriver.cuEventDestroy_v2(handle) == 0;
}

/// <summary>A loaded CUmodule; unloaded when disposed.</summary>
internal sealed class CuModuleHandle : SafeHandle
{
    public CuModuleHandle(nint module)
        : base(0, ownsHandle: true) => SetHandle(module);

    public override bool IsInvalid => handle == 0;

    protected override bool ReleaseHandle() => CuDriver.cuModuleUnload(handle) == 0;
}

/// <summary>A device allocation (cuMemAlloc); freed in its context when disposed, from any thread.</summary>
internal sealed class DeviceMemoryHandle : SafeHandle
{
    private readonly nint _context;

    public DeviceMemoryHandle(ulong pointer, nint context)
        : base(0, ownsHandle: true)
    {
        SetHandle((nint)pointer);
        _context = context;
    }

    public override bool IsInvalid => handle == 0;

    protected override bool ReleaseHandle() =>
        CuDriver.cuCtxSetCurrent(_context) == 0 && CuDriver.cuMemFree_v2((ulong)handle) == 0;
}

/// <summary>Page-locked host memory from cuMemHostAlloc; freed with its context current when released.</summary>
internal sealed class HostMemoryHandle : SafeHandle
{
    private readonly nint _context;

    public HostMemoryHandle(nint pointer, nint context)
        : base(0, ownsHandle: true)
    {
        SetHandle(pointer);
        _context = context;
    }

    public override bool IsInvalid => handle == 0;

    protected override bool ReleaseHandle() =>
        CuDriver.cuCtxSetCurrent(_context) == 0 && CuDriver.cuMemFreeHost(handle) == 0;
}

/// <summary>An instantiated CUDA graph (CUgraphExec); destroyed when disposed.</summary>
internal sealed class GraphExecHandle : SafeHandle
{
    public GraphExecHandle(nint exec)
        : base(0, ownsHandle: true) => SetHandle(exec);

    public override bool IsInvalid => handle == 0;

    protected override bool ReleaseHandle() => CuDriver.cuGraphExecDestroy(handle) == 0;
}
