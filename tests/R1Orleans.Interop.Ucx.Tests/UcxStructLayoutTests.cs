using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using R1Orleans.Interop.Ucx.Native;

namespace R1Orleans.Interop.Ucx.Tests;

/// <summary>
/// The C# structs match UCX 1.13's headers byte for byte. The figures come from layout/ucx_layout.c compiled against
/// libucx-dev 1.13.1 (gcc -I/usr/include layout/ucx_layout.c -o /tmp/ucx_layout &amp;&amp; /tmp/ucx_layout).
/// </summary>
public sealed class UcxStructLayoutTests
{
    public static TheoryData<Type, int> Sizes => new()
    {
        { typeof(UcpParams), 80 },
        { typeof(UcpWorkerParams), 200 },
        { typeof(UcsSockAddr), 16 },
        { typeof(UcpErrHandler), 16 },
        { typeof(UcpEpParams), 104 },
        { typeof(UcpRequestParam), 72 },
        { typeof(UcpAmHandlerParam), 32 },
        { typeof(UcpAmRecvParam), 16 },
    };

    public static TheoryData<Type, string, int> Offsets => new()
    {
        { typeof(UcpParams), nameof(UcpParams.FieldMask), 0 },
        { typeof(UcpParams), nameof(UcpParams.Features), 8 },
        { typeof(UcpParams), nameof(UcpParams.RequestSize), 16 },
        { typeof(UcpParams), nameof(UcpParams.RequestInit), 24 },
        { typeof(UcpParams), nameof(UcpParams.RequestCleanup), 32 },
        { typeof(UcpParams), nameof(UcpParams.TagSenderMask), 40 },
        { typeof(UcpParams), nameof(UcpParams.MtWorkersShared), 48 },
        { typeof(UcpParams), nameof(UcpParams.EstimatedNumEps), 56 },
        { typeof(UcpParams), nameof(UcpParams.EstimatedNumPpn), 64 },
        { typeof(UcpParams), nameof(UcpParams.Name), 72 },
        { typeof(UcpWorkerParams), nameof(UcpWorkerParams.FieldMask), 0 },
        { typeof(UcpWorkerParams), nameof(UcpWorkerParams.ThreadMode), 8 },
        { typeof(UcpWorkerParams), nameof(UcpWorkerParams.CpuMask), 16 },
        { typeof(UcpWorkerParams), nameof(UcpWorkerParams.Events), 144 },
        { typeof(UcpWorkerParams), nameof(UcpWorkerParams.UserData), 152 },
        { typeof(UcpWorkerParams), nameof(UcpWorkerParams.EventFd), 160 },
        { typeof(UcpWorkerParams), nameof(UcpWorkerParams.Flags), 168 },
        { typeof(UcpWorkerParams), nameof(UcpWorkerParams.Name), 176 },
        { typeof(UcpWorkerParams), nameof(UcpWorkerParams.AmAlignment), 184 },
        { typeof(UcpWorkerParams), nameof(UcpWorkerParams.ClientId), 192 },
        { typeof(UcpEpParams), nameof(UcpEpParams.FieldMask), 0 },
        { typeof(UcpEpParams), nameof(UcpEpParams.Address), 8 },
        { typeof(UcpEpParams), nameof(UcpEpParams.ErrMode), 16 },
        { typeof(UcpEpParams), nameof(UcpEpParams.ErrHandler), 24 },
        { typeof(UcpEpParams), nameof(UcpEpParams.UserData), 40 },
        { typeof(UcpEpParams), nameof(UcpEpParams.Flags), 48 },
        { typeof(UcpEpParams), nameof(UcpEpParams.SockAddr), 56 },
        { typeof(UcpEpParams), nameof(UcpEpParams.ConnRequest), 72 },
        { typeof(UcpEpParams), nameof(UcpEpParams.Name), 80 },
        { typeof(UcpEpParams), nameof(UcpEpParams.LocalSockAddr), 88 },
        { typeof(UcpRequestParam), nameof(UcpRequestParam.OpAttrMask), 0 },
        { typeof(UcpRequestParam), nameof(UcpRequestParam.Flags), 4 },
        { typeof(UcpRequestParam), nameof(UcpRequestParam.Request), 8 },
        { typeof(UcpRequestParam), nameof(UcpRequestParam.Callback), 16 },
        { typeof(UcpRequestParam), nameof(UcpRequestParam.Datatype), 24 },
        { typeof(UcpRequestParam), nameof(UcpRequestParam.UserData), 32 },
        { typeof(UcpRequestParam), nameof(UcpRequestParam.ReplyBuffer), 40 },
        { typeof(UcpRequestParam), nameof(UcpRequestParam.MemoryType), 48 },
        { typeof(UcpRequestParam), nameof(UcpRequestParam.RecvInfo), 56 },
        { typeof(UcpRequestParam), nameof(UcpRequestParam.Memh), 64 },
        { typeof(UcpAmHandlerParam), nameof(UcpAmHandlerParam.FieldMask), 0 },
        { typeof(UcpAmHandlerParam), nameof(UcpAmHandlerParam.Id), 8 },
        { typeof(UcpAmHandlerParam), nameof(UcpAmHandlerParam.Flags), 12 },
        { typeof(UcpAmHandlerParam), nameof(UcpAmHandlerParam.Callback), 16 },
        { typeof(UcpAmHandlerParam), nameof(UcpAmHandlerParam.Arg), 24 },
        { typeof(UcpAmRecvParam), nameof(UcpAmRecvParam.RecvAttr), 0 },
        { typeof(UcpAmRecvParam), nameof(UcpAmRecvParam.ReplyEp), 8 },
    };

    [Theory]
    [MemberData(nameof(Sizes))]
    public void Struct_size_matches_the_UCX_1_13_header(Type type, int expected)
    {
        Assert.Equal(expected, Marshal.SizeOf(type));
        var unsafeSize = (int)typeof(Unsafe).GetMethod(nameof(Unsafe.SizeOf))!.MakeGenericMethod(type).Invoke(null, null)!;
        Assert.Equal(expected, unsafeSize);
    }

    [Theory]
    [MemberData(nameof(Offsets))]
    public void Field_offset_matches_the_UCX_1_13_header(Type type, string field, int expected) =>
        Assert.Equal(expected, (int)Marshal.OffsetOf(type, field));

    [Fact]
    public void Loaded_libucp_speaks_the_1_13_api_or_a_compatible_later_one()
    {
        UcpNative.EnsureResolver();
        UcpNative.GetVersion(out var major, out var minor, out _);
        Assert.Equal(UcpContextHandle.ApiMajor, major);
        Assert.True(minor >= UcpContextHandle.ApiMinor, $"libucp {major}.{minor} is older than the bindings' 1.13");
    }
}
