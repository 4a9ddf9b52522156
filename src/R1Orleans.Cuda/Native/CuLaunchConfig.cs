using System.Runtime.InteropServices;

namespace R1Orleans.Cuda.Native;

/// <summary>CUlaunchConfig (cuda.h): grid, block, shared memory, stream and an array of <see cref="CuLaunchAttribute"/>.</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct CuLaunchConfig
{
    public uint GridDimX;
    public uint GridDimY;
    public uint GridDimZ;
    public uint BlockDimX;
    public uint BlockDimY;
    public uint BlockDimZ;
    public uint SharedMemBytes;
    public nint Stream;
    public CuLaunchAttribute* Attrs;
    public uint NumAttrs;
}

/// <summary>
/// CUlaunchAttribute (cuda.h): a 4-byte id, padding to 8, then the 64-byte CUlaunchAttributeValue union, of which
/// only the first int is used here (e.g. programmaticStreamSerializationAllowed).
/// </summary>
[StructLayout(LayoutKind.Explicit, Size = 72)]
internal struct CuLaunchAttribute
{
    [FieldOffset(0)]
    public int Id;

    [FieldOffset(8)]
    public int Value;
}
