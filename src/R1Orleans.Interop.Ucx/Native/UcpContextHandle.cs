using System.Runtime.InteropServices;

namespace R1Orleans.Interop.Ucx.Native;

/// <summary>Owns a ucp_context_h from ucp_init_version; released with ucp_cleanup.</summary>
internal sealed class UcpContextHandle : SafeHandle
{
    /// <summary>The UCP API version these bindings were written against (UCP_API_MAJOR, UCP_API_MINOR).</summary>
    public const uint ApiMajor = 1, ApiMinor = 13;

    public UcpContextHandle() : base(0, ownsHandle: true) { }

    public override bool IsInvalid => handle == 0;

    /// <summary>ucp_init_version with active messages and wake-up, for one worker.</summary>
    public static unsafe UcpContextHandle Create(UcpConfigHandle config, string name)
    {
        var context = new UcpContextHandle();
        var nameBytes = Utf8Z(name);
        fixed (byte* namePtr = nameBytes)
        {
            var parameters = new UcpParams
            {
                FieldMask = UcpParamField.Features | UcpParamField.MtWorkersShared | UcpParamField.Name,
                Features = UcpFeature.Am | UcpFeature.Wakeup,
                MtWorkersShared = 0,
                Name = (nint)namePtr,
            };
            var added = false;
            config.DangerousAddRef(ref added);
            try
            {
                UcxException.Check(
                    UcpNative.InitVersion(ApiMajor, ApiMinor, &parameters, config.DangerousGetHandle(), out var raw),
                    "ucp_init_version");
                context.SetHandle(raw);
            }
            finally
            {
                if (added)
                    config.DangerousRelease();
            }
        }
        return context;
    }

    internal static byte[] Utf8Z(string text)
    {
        var bytes = new byte[System.Text.Encoding.UTF8.GetByteCount(text) + 1];
        System.Text.Encoding.UTF8.GetBytes(text, bytes);
        return bytes;
    }

    protected override bool ReleaseHandle()
    {
        UcpNative.Cleanup(handle);
        return true;
    }
}
