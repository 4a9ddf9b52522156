using System.Runtime.InteropServices;

namespace R1Orleans.Interop.Ucx.Native;

/// <summary>ucp_worker_params_t (UCX 1.13, 200 bytes): worker parameters for ucp_worker_create.</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct UcpWorkerParams
{
    public UcpWorkerParamField FieldMask;
    public UcsThreadMode ThreadMode;

    /// <summary>ucs_cpu_set_t: a cpu_set_t of 1,024 bits.</summary>
    public fixed ulong CpuMask[16];

    public UcpWakeupEvent Events;
    public nint UserData;
    public int EventFd;
    public ulong Flags;
    public nint Name;
    public nuint AmAlignment;
    public ulong ClientId;
}
