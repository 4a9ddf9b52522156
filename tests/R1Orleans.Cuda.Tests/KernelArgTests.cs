using System.Runtime.InteropServices;

namespace R1Orleans.Cuda.Tests;

public class KernelArgTests
{
    private static byte[] SlotBytes(KernelArg a) => MemoryMarshal.AsBytes(new[] { a }.AsSpan()).ToArray();

    [Fact]
    public void AnIntParameter_ReadsBackFromTheLowFourBytesOfItsSlot()
    {
        byte[] slot = SlotBytes(KernelArg.FromInt32(-7));
        Assert.Equal(8, slot.Length);
        Assert.Equal(-7, BitConverter.ToInt32(slot, 0));
    }

    [Fact]
    public void AFloatParameter_KeepsItsExactBits()
    {
        byte[] slot = SlotBytes(KernelArg.FromSingle(1e-6f));
        Assert.Equal(1e-6f, BitConverter.ToSingle(slot, 0));
    }

    [Fact]
    public void SixtyFourBitParameters_UseTheWholeSlot()
    {
        KernelArg a = 0x0123_4567_89AB_CDEFUL;
        Assert.Equal(0x0123_4567_89AB_CDEFUL, BitConverter.ToUInt64(SlotBytes(a), 0));
        KernelArg b = -2L;
        Assert.Equal(-2L, BitConverter.ToInt64(SlotBytes(b), 0));
    }
}
