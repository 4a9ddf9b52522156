using System.Runtime.InteropServices;
using R1Orleans.Cuda.Native;

namespace R1Orleans.Cuda.Tests;

/// <summary>cuLaunchKernelEx reads these structs as cuda.h lays them out on 64-bit Linux.</summary>
public class CuLaunchConfigLayoutTests
{
    [Fact]
    public void LaunchConfig_MatchesCudaH()
    {
        Assert.Equal(56, Marshal.SizeOf<CuLaunchConfig>());
        Assert.Equal(24, (int)Marshal.OffsetOf<CuLaunchConfig>(nameof(CuLaunchConfig.SharedMemBytes)));
        Assert.Equal(32, (int)Marshal.OffsetOf<CuLaunchConfig>(nameof(CuLaunchConfig.Stream)));
        Assert.Equal(40, (int)Marshal.OffsetOf<CuLaunchConfig>(nameof(CuLaunchConfig.Attrs)));
        Assert.Equal(48, (int)Marshal.OffsetOf<CuLaunchConfig>(nameof(CuLaunchConfig.NumAttrs)));
    }

    [Fact]
    public void LaunchAttribute_IsAnIdThenTheValueUnionAt8()
    {
        Assert.Equal(72, Marshal.SizeOf<CuLaunchAttribute>());
        Assert.Equal(0, (int)Marshal.OffsetOf<CuLaunchAttribute>(nameof(CuLaunchAttribute.Id)));
        Assert.Equal(8, (int)Marshal.OffsetOf<CuLaunchAttribute>(nameof(CuLaunchAttribute.Value)));
    }
}
