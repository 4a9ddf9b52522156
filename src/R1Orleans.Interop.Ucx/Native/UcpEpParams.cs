using System.Runtime.InteropServices;

namespace R1Orleans.Interop.Ucx.Native;

/// <summary>ucs_sock_addr_t (16 bytes).</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct UcsSockAddr
{
    public nint Address;
    public nuint AddressLength;
}

/// <summary>ucp_err_handler_t (16 bytes): the endpoint's peer-failure callback and its argument.</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct UcpErrHandler
{
    /// <summary>ucp_err_handler_cb_t: void (*)(void *arg, ucp_ep_h ep, ucs_status_t status).</summary>
    public delegate* unmanaged[Cdecl]<nint, nint, UcsStatus, void> Callback;
    public nint Arg;
}

/// <summary>ucp_ep_params_t (UCX 1.13, 104 bytes): endpoint parameters for ucp_ep_create.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct UcpEpParams
{
    public UcpEpParamField FieldMask;
    public nint Address;
    public UcpErrHandlingMode ErrMode;
    public UcpErrHandler ErrHandler;
    public nint UserData;
    public uint Flags;
    public UcsSockAddr SockAddr;
    public nint ConnRequest;
    public nint Name;
    public UcsSockAddr LocalSockAddr;
}
