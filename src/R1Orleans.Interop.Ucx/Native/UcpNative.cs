using System.Runtime.InteropServices;

namespace R1Orleans.Interop.Ucx.Native;

/// <summary>
/// Source-generated bindings to libucp.so.0 (UCX 1.13). Handles are raw pointers here; the SafeHandles in this folder
/// own them. Every function that returns a status is checked by the caller through <see cref="UcxException.Check"/>.
/// </summary>
internal static unsafe partial class UcpNative
{
    static UcpNative() => UcxLibraryResolver.EnsureInstalled();

    /// <summary>Touches the class so its static constructor installs the library resolver before any import runs.</summary>
    public static void EnsureResolver() => UcxLibraryResolver.EnsureInstalled();

    [LibraryImport(UcxLibraryNames.Ucp, EntryPoint = "ucp_config_read", StringMarshalling = StringMarshalling.Utf8)]
    public static partial UcsStatus ConfigRead(string? envPrefix, string? fileName, out nint config);

    [LibraryImport(UcxLibraryNames.Ucp, EntryPoint = "ucp_config_modify", StringMarshalling = StringMarshalling.Utf8)]
    public static partial UcsStatus ConfigModify(nint config, string name, string value);

    [LibraryImport(UcxLibraryNames.Ucp, EntryPoint = "ucp_config_release")]
    public static partial void ConfigRelease(nint config);

    [LibraryImport(UcxLibraryNames.Ucp, EntryPoint = "ucp_init_version")]
    public static partial UcsStatus InitVersion(uint apiMajor, uint apiMinor, UcpParams* parameters, nint config,
        out nint context);

    [LibraryImport(UcxLibraryNames.Ucp, EntryPoint = "ucp_cleanup")]
    public static partial void Cleanup(nint context);

    [LibraryImport(UcxLibraryNames.Ucp, EntryPoint = "ucp_worker_create")]
    public static partial UcsStatus WorkerCreate(nint context, UcpWorkerParams* parameters, out nint worker);

    [LibraryImport(UcxLibraryNames.Ucp, EntryPoint = "ucp_worker_destroy")]
    public static partial void WorkerDestroy(nint worker);

    [LibraryImport(UcxLibraryNames.Ucp, EntryPoint = "ucp_worker_get_address")]
    public static partial UcsStatus WorkerGetAddress(nint worker, out nint address, out nuint addressLength);

    [LibraryImport(UcxLibraryNames.Ucp, EntryPoint = "ucp_worker_release_address")]
    public static partial void WorkerReleaseAddress(nint worker, nint address);

    [LibraryImport(UcxLibraryNames.Ucp, EntryPoint = "ucp_worker_progress")]
    public static partial uint WorkerProgress(nint worker);

    [LibraryImport(UcxLibraryNames.Ucp, EntryPoint = "ucp_worker_get_efd")]
    public static partial UcsStatus WorkerGetEfd(nint worker, out int fd);

    [LibraryImport(UcxLibraryNames.Ucp, EntryPoint = "ucp_worker_arm")]
    public static partial UcsStatus WorkerArm(nint worker);

    [LibraryImport(UcxLibraryNames.Ucp, EntryPoint = "ucp_worker_set_am_recv_handler")]
    public static partial UcsStatus WorkerSetAmRecvHandler(nint worker, UcpAmHandlerParam* parameters);

    [LibraryImport(UcxLibraryNames.Ucp, EntryPoint = "ucp_ep_create")]
    public static partial UcsStatus EpCreate(nint worker, UcpEpParams* parameters, out nint endpoint);

    [LibraryImport(UcxLibraryNames.Ucp, EntryPoint = "ucp_ep_close_nbx")]
    public static partial nint EpCloseNbx(nint endpoint, UcpRequestParam* parameters);

    [LibraryImport(UcxLibraryNames.Ucp, EntryPoint = "ucp_am_send_nbx")]
    public static partial nint AmSendNbx(nint endpoint, uint id, void* header, nuint headerLength, void* buffer,
        nuint count, UcpRequestParam* parameters);

    [LibraryImport(UcxLibraryNames.Ucp, EntryPoint = "ucp_am_recv_data_nbx")]
    public static partial nint AmRecvDataNbx(nint worker, nint dataDescriptor, void* buffer, nuint count,
        UcpRequestParam* parameters);

    [LibraryImport(UcxLibraryNames.Ucp, EntryPoint = "ucp_am_data_release")]
    public static partial void AmDataRelease(nint worker, nint data);

    [LibraryImport(UcxLibraryNames.Ucp, EntryPoint = "ucp_request_check_status")]
    public static partial UcsStatus RequestCheckStatus(nint request);

    [LibraryImport(UcxLibraryNames.Ucp, EntryPoint = "ucp_request_free")]
    public static partial void RequestFree(nint request);

    [LibraryImport(UcxLibraryNames.Ucp, EntryPoint = "ucp_get_version")]
    public static partial void GetVersion(out uint major, out uint minor, out uint release);
}
