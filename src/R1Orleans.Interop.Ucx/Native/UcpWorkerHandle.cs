using System.Runtime.InteropServices;

namespace R1Orleans.Interop.Ucx.Native;

/// <summary>Owns a ucp_worker_h; destroyed with ucp_worker_destroy before its context is cleaned up.</summary>
internal sealed class UcpWorkerHandle : SafeHandle
{
    private UcpContextHandle? _context;

    public UcpWorkerHandle() : base(0, ownsHandle: true) { }

    public override bool IsInvalid => handle == 0;

    /// <summary>ucp_worker_create in the given thread mode with RX/TX wake-up events.</summary>
    public static unsafe UcpWorkerHandle Create(UcpContextHandle context, UcsThreadMode threadMode, string name)
    {
        var worker = new UcpWorkerHandle();
        var nameBytes = UcpContextHandle.Utf8Z(name);
        var added = false;
        context.DangerousAddRef(ref added);
        try
        {
            fixed (byte* namePtr = nameBytes)
            {
                var parameters = new UcpWorkerParams
                {
                    FieldMask = UcpWorkerParamField.ThreadMode | UcpWorkerParamField.Events | UcpWorkerParamField.Name,
                    ThreadMode = threadMode,
                    Events = UcpWakeupEvent.Rx | UcpWakeupEvent.Tx,
                    Name = (nint)namePtr,
                };
                UcxException.Check(UcpNative.WorkerCreate(context.DangerousGetHandle(), &parameters, out var raw),
                    "ucp_worker_create");
                worker.SetHandle(raw);
                worker._context = context;
                added = false;
            }
        }
        finally
        {
            if (added)
                context.DangerousRelease();
        }
        return worker;
    }

    protected override bool ReleaseHandle()
    {
        UcpNative.WorkerDestroy(handle);
        _context?.DangerousRelease();
        return true;
    }
}
