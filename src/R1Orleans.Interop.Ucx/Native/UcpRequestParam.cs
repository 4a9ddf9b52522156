using System.Runtime.InteropServices;

namespace R1Orleans.Interop.Ucx.Native;

/// <summary>ucp_request_param_t (UCX 1.13, 72 bytes): parameters of the *_nbx operations.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct UcpRequestParam
{
    public UcpOpAttr OpAttrMask;

    /// <summary>Operation-specific flags (for ucp_am_send_nbx: <see cref="UcpAmSendFlag"/>).</summary>
    public uint Flags;

    public nint Request;

    /// <summary>
    /// The completion callback (a union in C): ucp_send_nbx_callback_t
    /// <c>void (*)(void *request, ucs_status_t status, void *user_data)</c> for sends,
    /// ucp_am_recv_data_nbx_callback_t <c>void (*)(void *request, ucs_status_t status, size_t length, void *user_data)</c>
    /// for ucp_am_recv_data_nbx.
    /// </summary>
    public nint Callback;

    public ulong Datatype;
    public nint UserData;
    public nint ReplyBuffer;
    public int MemoryType;

    /// <summary>recv_info (a union of pointers in C).</summary>
    public nint RecvInfo;

    public nint Memh;
}
