using System.Runtime.InteropServices;

namespace R1Orleans.Interop.Ucx.Native;

/// <summary>ucp_params_t (UCX 1.13, 80 bytes): context parameters for ucp_init_version.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct UcpParams
{
    public UcpParamField FieldMask;
    public UcpFeature Features;
    public nuint RequestSize;
    public nint RequestInit;
    public nint RequestCleanup;
    public ulong TagSenderMask;
    public int MtWorkersShared;
    public nuint EstimatedNumEps;
    public nuint EstimatedNumPpn;
    public nint Name;
}
