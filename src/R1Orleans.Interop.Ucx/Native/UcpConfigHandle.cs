using System.Runtime.InteropServices;

namespace R1Orleans.Interop.Ucx.Native;

/// <summary>Owns a ucp_config_t from ucp_config_read; released with ucp_config_release.</summary>
internal sealed class UcpConfigHandle : SafeHandle
{
    public UcpConfigHandle() : base(0, ownsHandle: true) { }

    public override bool IsInvalid => handle == 0;

    /// <summary>ucp_config_read(NULL, NULL): UCX's defaults overlaid with the UCX_* environment variables.</summary>
    public static UcpConfigHandle Read()
    {
        UcpNative.EnsureResolver();
        var config = new UcpConfigHandle();
        UcxException.Check(UcpNative.ConfigRead(null, null, out var raw), "ucp_config_read");
        config.SetHandle(raw);
        return config;
    }

    /// <summary>ucp_config_modify: one setting by its name without the UCX_ prefix (e.g. "TLS").</summary>
    public void Modify(string name, string value) =>
        UcxException.Check(UcpNative.ConfigModify(handle, name, value), $"ucp_config_modify({name}={value})");

    protected override bool ReleaseHandle()
    {
        UcpNative.ConfigRelease(handle);
        return true;
    }
}
