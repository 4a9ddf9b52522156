using System.Runtime.InteropServices;

namespace R1Orleans.Cuda.Nccl;

/// <summary>
/// The NCCL functions R1Orleans uses (nccl.h names, NCCL 2.28). Every call returns an ncclResult_t, checked through
/// <see cref="NcclStatus"/>. Callers load the library first (<see cref="NcclLibrary.Load"/>). Pointers to device
/// memory and CUDA streams are passed as integers (CUdeviceptr, CUstream).
/// </summary>
internal static unsafe partial class NcclApi
{
    [LibraryImport(NcclLibrary.LogicalName)]
    public static partial int ncclGetVersion(out int version);

    [LibraryImport(NcclLibrary.LogicalName)]
    public static partial nint ncclGetErrorString(int result);

    [LibraryImport(NcclLibrary.LogicalName)]
    public static partial nint ncclGetLastError(nint communicator);

    [LibraryImport(NcclLibrary.LogicalName)]
    public static partial int ncclGetUniqueId(NcclNativeUniqueId* uniqueId);

    /// <summary>ncclUniqueId is passed by value (128 bytes, in memory on x86-64).</summary>
    [LibraryImport(NcclLibrary.LogicalName)]
    public static partial int ncclCommInitRankConfig(out nint communicator, int ranks, NcclNativeUniqueId uniqueId, int rank, NcclConfig* config);

    [LibraryImport(NcclLibrary.LogicalName)]
    public static partial int ncclCommGetAsyncError(nint communicator, out int asyncError);

    [LibraryImport(NcclLibrary.LogicalName)]
    public static partial int ncclCommFinalize(nint communicator);

    [LibraryImport(NcclLibrary.LogicalName)]
    public static partial int ncclCommDestroy(nint communicator);

    [LibraryImport(NcclLibrary.LogicalName)]
    public static partial int ncclCommAbort(nint communicator);

    [LibraryImport(NcclLibrary.LogicalName)]
    public static partial int ncclCommCount(nint communicator, out int count);

    [LibraryImport(NcclLibrary.LogicalName)]
    public static partial int ncclCommUserRank(nint communicator, out int rank);

    [LibraryImport(NcclLibrary.LogicalName)]
    public static partial int ncclGroupStart();

    [LibraryImport(NcclLibrary.LogicalName)]
    public static partial int ncclGroupEnd();

    [LibraryImport(NcclLibrary.LogicalName)]
    public static partial int ncclSend(ulong sendBuffer, nuint count, int dataType, int peer, nint communicator, nint stream);

    [LibraryImport(NcclLibrary.LogicalName)]
    public static partial int ncclRecv(ulong receiveBuffer, nuint count, int dataType, int peer, nint communicator, nint stream);
}

/// <summary>ncclUniqueId as it crosses the boundary: 128 opaque bytes.</summary>
[StructLayout(LayoutKind.Sequential, Size = NcclUniqueId.Bytes)]
internal unsafe struct NcclNativeUniqueId
{
    public fixed byte Internal[NcclUniqueId.Bytes];
}
