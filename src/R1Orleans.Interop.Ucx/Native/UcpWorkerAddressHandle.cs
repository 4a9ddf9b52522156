using System.Runtime.InteropServices;

namespace R1Orleans.Interop.Ucx.Native;

/// <summary>Owns a ucp_address_t from ucp_worker_get_address; released with ucp_worker_release_address.</summary>
internal sealed class UcpWorkerAddressHandle : SafeHandle
{
    private UcpWorkerHandle? _worker;

    public UcpWorkerAddressHandle() : base(0, ownsHandle: true) { }

    public override bool IsInvalid => handle == 0;

    /// <summary>The address length in bytes.</summary>
    public int Length { get; private set; }

    /// <summary>ucp_worker_get_address.</summary>
    public static UcpWorkerAddressHandle Get(UcpWorkerHandle worker)
    {
        var address = new UcpWorkerAddressHandle();
        var added = false;
        worker.DangerousAddRef(ref added);
        try
        {
            UcxException.Check(UcpNative.WorkerGetAddress(worker.DangerousGetHandle(), out var raw, out var length),
                "ucp_worker_get_address");
            address.SetHandle(raw);
            address.Length = checked((int)length);
            address._worker = worker;
            added = false;
        }
        finally
        {
            if (added)
                worker.DangerousRelease();
        }
        return address;
    }

    /// <summary>The address bytes, copied out (the form published through the control plane).</summary>
    public unsafe byte[] ToArray() => new ReadOnlySpan<byte>((void*)handle, Length).ToArray();

    protected override bool ReleaseHandle()
    {
        if (_worker is not null)
        {
            UcpNative.WorkerReleaseAddress(_worker.DangerousGetHandle(), handle);
            _worker.DangerousRelease();
        }
        return true;
    }
}
