using System.Runtime.InteropServices;
using R1Orleans.Cuda.Nccl;

namespace R1Orleans.Cuda.Tests;

/// <summary>ncclConfig_t as NCCL 2.28's nccl.h declares it (ncclConfig_v22800) on x86-64.</summary>
public class NcclConfigLayoutTests
{
    [Theory]
    [InlineData(nameof(NcclConfig.Size), 0)]
    [InlineData(nameof(NcclConfig.Magic), 8)]
    [InlineData(nameof(NcclConfig.Version), 12)]
    [InlineData(nameof(NcclConfig.Blocking), 16)]
    [InlineData(nameof(NcclConfig.CgaClusterSize), 20)]
    [InlineData(nameof(NcclConfig.MinCTAs), 24)]
    [InlineData(nameof(NcclConfig.MaxCTAs), 28)]
    [InlineData(nameof(NcclConfig.NetName), 32)]
    [InlineData(nameof(NcclConfig.SplitShare), 40)]
    [InlineData(nameof(NcclConfig.TrafficClass), 44)]
    [InlineData(nameof(NcclConfig.CommName), 48)]
    [InlineData(nameof(NcclConfig.CollnetEnable), 56)]
    [InlineData(nameof(NcclConfig.CTAPolicy), 60)]
    [InlineData(nameof(NcclConfig.ShrinkShare), 64)]
    [InlineData(nameof(NcclConfig.NvlsCTAs), 68)]
    [InlineData(nameof(NcclConfig.NChannelsPerNetPeer), 72)]
    [InlineData(nameof(NcclConfig.NvlinkCentricSched), 76)]
    public void Every_field_sits_where_nccl_h_puts_it(string field, int offset)
    {
        Assert.Equal(offset, (int)Marshal.OffsetOf<NcclConfig>(field));
    }

    [Fact]
    public unsafe void The_struct_is_80_bytes_and_says_so()
    {
        Assert.Equal(80, sizeof(NcclConfig));
        Assert.Equal(80u, (uint)NcclConfig.NonBlocking().Size);
    }

    [Fact]
    public void The_non_blocking_config_is_the_initializer_with_blocking_off()
    {
        NcclConfig c = NcclConfig.NonBlocking(commName: 1234);

        Assert.Equal(0xcafebeefu, c.Magic);
        Assert.Equal(22800u, c.Version);
        Assert.Equal(0, c.Blocking);
        Assert.Equal(1234, c.CommName);
        Assert.Equal(0, c.NetName);
        Assert.All(
            new[] { c.CgaClusterSize, c.MinCTAs, c.MaxCTAs, c.SplitShare, c.TrafficClass, c.CollnetEnable, c.CTAPolicy, c.ShrinkShare, c.NvlsCTAs, c.NChannelsPerNetPeer, c.NvlinkCentricSched },
            v => Assert.Equal(int.MinValue, v));
    }
}
