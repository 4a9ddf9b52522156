using System.Runtime.InteropServices;

namespace R1Orleans.Cuda;

/// <summary>
/// One kernel parameter as cuLaunchKernel reads it: the value's bytes, little-endian, in an 8-byte slot (a 4-byte
/// int or float parameter reads the low 4 bytes; a pointer or 64-bit value reads all 8).
/// </summary>
[StructLayout(LayoutKind.Sequential)]
public readonly record struct KernelArg(ulong Bits)
{
    public static implicit operator KernelArg(int value) => new((uint)value);

    public static implicit operator KernelArg(uint value) => new(value);

    public static implicit operator KernelArg(long value) => new((ulong)value);

    public static implicit operator KernelArg(ulong value) => new(value);

    public static implicit operator KernelArg(float value) => new(BitConverter.SingleToUInt32Bits(value));

    public static implicit operator KernelArg(DeviceBuffer buffer) => new(buffer.Pointer);

    public static KernelArg FromInt32(int value) => value;

    public static KernelArg FromSingle(float value) => value;

    public static KernelArg FromBuffer(DeviceBuffer buffer) => buffer;
}
