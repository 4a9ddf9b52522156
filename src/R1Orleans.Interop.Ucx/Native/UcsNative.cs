using System.Runtime.InteropServices;

namespace R1Orleans.Interop.Ucx.Native;

/// <summary>Bindings to libucs.so.0 (UCX's services layer).</summary>
internal static partial class UcsNative
{
    static UcsNative() => UcxLibraryResolver.EnsureInstalled();

    [LibraryImport(UcxLibraryNames.Ucs, EntryPoint = "ucs_status_string")]
    private static partial nint StatusStringPointer(UcsStatus status);

    /// <summary>ucs_status_string: UCX's text for a status.</summary>
    public static string StatusString(UcsStatus status) =>
        Marshal.PtrToStringUTF8(StatusStringPointer(status)) ?? status.ToString();
}
