using System.Runtime.InteropServices;

namespace R1Orleans.Interop.Ucx.Native;

/// <summary>ucp_am_handler_param_t (UCX 1.13, 32 bytes): registers an active-message handler on a worker.</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct UcpAmHandlerParam
{
    public UcpAmHandlerParamField FieldMask;
    public uint Id;
    public UcpAmCbFlag Flags;

    /// <summary>
    /// ucp_am_recv_callback_t: <c>ucs_status_t (*)(void *arg, const void *header, size_t header_length,
    /// void *data, size_t length, const ucp_am_recv_param_t *param)</c>.
    /// </summary>
    public delegate* unmanaged[Cdecl]<nint, nint, nuint, nint, nuint, UcpAmRecvParam*, UcsStatus> Callback;

    public nint Arg;
}

/// <summary>ucp_am_recv_param_t (16 bytes): what the handler learns about a received active message.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct UcpAmRecvParam
{
    public UcpAmRecvAttr RecvAttr;
    public nint ReplyEp;
}
