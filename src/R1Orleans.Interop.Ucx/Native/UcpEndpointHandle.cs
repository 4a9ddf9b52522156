using System.Runtime.InteropServices;

namespace R1Orleans.Interop.Ucx.Native;

/// <summary>
/// Owns a ucp_ep_h created from a remote worker address with peer-failure error handling. Released with
/// ucp_ep_close_nbx(FORCE); the close completes as the worker progresses (or when the worker is destroyed).
/// Must be created and released on the worker's progress thread.
/// </summary>
internal sealed class UcpEndpointHandle : SafeHandle
{
    private UcpWorkerHandle? _worker;

    public UcpEndpointHandle() : base(0, ownsHandle: true) { }

    public override bool IsInvalid => handle == 0;

    /// <summary>ucp_ep_create to a worker address, UCP_ERR_HANDLING_MODE_PEER, with the given error callback.</summary>
    public static unsafe UcpEndpointHandle Create(UcpWorkerHandle worker, ReadOnlySpan<byte> remoteAddress,
        delegate* unmanaged[Cdecl]<nint, nint, UcsStatus, void> errorCallback, nint errorArg)
    {
        var endpoint = new UcpEndpointHandle();
        var added = false;
        worker.DangerousAddRef(ref added);
        try
        {
            fixed (byte* address = remoteAddress)
            {
                var parameters = new UcpEpParams
                {
                    FieldMask = UcpEpParamField.RemoteAddress | UcpEpParamField.ErrHandlingMode
                        | UcpEpParamField.ErrHandler,
                    Address = (nint)address,
                    ErrMode = UcpErrHandlingMode.Peer,
                    ErrHandler = new UcpErrHandler { Callback = errorCallback, Arg = errorArg },
                };
                UcxException.Check(UcpNative.EpCreate(worker.DangerousGetHandle(), &parameters, out var raw),
                    "ucp_ep_create");
                endpoint.SetHandle(raw);
                endpoint._worker = worker;
                added = false;
            }
        }
        finally
        {
            if (added)
                worker.DangerousRelease();
        }
        return endpoint;
    }

    protected override unsafe bool ReleaseHandle()
    {
        var parameters = new UcpRequestParam { OpAttrMask = UcpOpAttr.FieldFlags, Flags = (uint)UcpEpCloseFlag.Force };
        var result = UcpNative.EpCloseNbx(handle, &parameters);
        if (UcsStatusPtr.IsRequest(result))
            UcpNative.RequestFree(result);
        _worker?.DangerousRelease();
        return true;
    }
}
