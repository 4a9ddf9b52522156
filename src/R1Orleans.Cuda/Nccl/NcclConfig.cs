using System.Runtime.InteropServices;

namespace R1Orleans.Cuda.Nccl;

/// <summary>
/// ncclConfig_t as NCCL 2.28's nccl.h lays it out (ncclConfig_v22800, 80 bytes on x86-64). NCCL reads a config by its
/// <see cref="Size"/> and <see cref="Version"/>: a newer library keeps its own defaults for fields past these, an older
/// one ignores what it does not know. <see cref="NonBlocking"/> is NCCL_CONFIG_INITIALIZER with blocking = 0: every
/// call on the communicator returns at once (ncclInProgress while it works) so that no call can hang.
/// </summary>
[StructLayout(LayoutKind.Sequential)]
internal struct NcclConfig
{
    /// <summary>NCCL_CONFIG_UNDEF_INT (INT_MIN): NCCL picks.</summary>
    public const int Undefined = int.MinValue;

    /// <summary>NCCL_API_MAGIC.</summary>
    public const uint ApiMagic = 0xcafebeef;

    /// <summary>NCCL_VERSION(2, 28, 0): the header version whose fields this struct carries.</summary>
    public const uint HeaderVersion = 22800;

    public nuint Size;
    public uint Magic;
    public uint Version;
    public int Blocking;
    public int CgaClusterSize;
    public int MinCTAs;
    public int MaxCTAs;
    public nint NetName;
    public int SplitShare;
    public int TrafficClass;
    public nint CommName;
    public int CollnetEnable;
    public int CTAPolicy;
    public int ShrinkShare;
    public int NvlsCTAs;
    public int NChannelsPerNetPeer;
    public int NvlinkCentricSched;

    /// <summary>NCCL_CONFIG_INITIALIZER with blocking = 0; <paramref name="commName"/> a UTF-8 C string kept alive by the caller (or 0).</summary>
    public static unsafe NcclConfig NonBlocking(nint commName = 0) => new()
    {
        Size = (nuint)sizeof(NcclConfig),
        Magic = ApiMagic,
        Version = HeaderVersion,
        Blocking = 0,
        CgaClusterSize = Undefined,
        MinCTAs = Undefined,
        MaxCTAs = Undefined,
        NetName = 0,
        SplitShare = Undefined,
        TrafficClass = Undefined,
        CommName = commName,
        CollnetEnable = Undefined,
        CTAPolicy = Undefined,
        ShrinkShare = Undefined,
        NvlsCTAs = Undefined,
        NChannelsPerNetPeer = Undefined,
        NvlinkCentricSched = Undefined,
    };
}
