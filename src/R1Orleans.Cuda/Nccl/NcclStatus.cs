using System.Runtime.InteropServices;

namespace R1Orleans.Cuda.Nccl;

/// <summary>
/// Turns every ncclResult_t into success or an <see cref="NcclException"/> naming the call, the result's name, NCCL's
/// text for it (ncclGetErrorString) and the library's last error message (ncclGetLastError). Where the library is not
/// loaded the texts are NCCL 2.28's own, kept here.
/// </summary>
internal static class NcclStatus
{
    /// <summary>Throws unless <paramref name="status"/> is ncclSuccess.</summary>
    public static void Check(int status, string call, nint communicator = 0)
    {
        if (status != (int)NcclResult.ncclSuccess)
        {
            throw Failure(status, call, communicator);
        }
    }

    /// <summary>
    /// For a call on a non-blocking communicator: ncclSuccess and ncclInProgress both mean started (the caller then
    /// waits, <see cref="NcclDeadline"/>); returns whether the call is still in progress. Anything else throws.
    /// </summary>
    public static bool CheckStarted(int status, string call, nint communicator)
    {
        if (status == (int)NcclResult.ncclInProgress)
        {
            return true;
        }

        Check(status, call, communicator);
        return false;
    }

    /// <summary>The exception for a failed status.</summary>
    public static NcclException Failure(int status, string call, nint communicator = 0) =>
        new(call, status, Name(status), ErrorString(status), LastError(communicator));

    /// <summary>The enumerator's name of a status, or "ncclResult N" for one this build does not know.</summary>
    public static string Name(int status) =>
        Enum.IsDefined(typeof(NcclResult), status) ? ((NcclResult)status).ToString() : $"ncclResult {status}";

    /// <summary>ncclGetErrorString of the loaded library, else NCCL 2.28's text for the status.</summary>
    public static string ErrorString(int status)
    {
        if (NcclLibrary.IsLoaded)
        {
            nint p = NcclApi.ncclGetErrorString(status);
            if (p != 0 && Marshal.PtrToStringUTF8(p) is { Length: > 0 } text)
            {
                return text;
            }
        }

        return BuiltInErrorString(status);
    }

    /// <summary>ncclGetLastError (the library's last error message; empty when none or not loaded).</summary>
    public static string LastError(nint communicator)
    {
        if (!NcclLibrary.IsLoaded)
        {
            return "";
        }

        nint p = NcclApi.ncclGetLastError(communicator);
        return p == 0 ? "" : Marshal.PtrToStringUTF8(p) ?? "";
    }

    /// <summary>NCCL 2.28's ncclGetErrorString texts (src/init.cc).</summary>
    public static string BuiltInErrorString(int status) => (NcclResult)status switch
    {
        NcclResult.ncclSuccess => "no error",
        NcclResult.ncclUnhandledCudaError => "unhandled cuda error (run with NCCL_DEBUG=INFO for details)",
        NcclResult.ncclSystemError => "unhandled system error (run with NCCL_DEBUG=INFO for details)",
        NcclResult.ncclInternalError => "internal error - please report this issue to the NCCL developers",
        NcclResult.ncclInvalidArgument => "invalid argument (run with NCCL_DEBUG=WARN for details)",
        NcclResult.ncclInvalidUsage => "invalid usage (run with NCCL_DEBUG=WARN for details)",
        NcclResult.ncclRemoteError => "remote process exited or there was a network error",
        NcclResult.ncclInProgress => "NCCL operation in progress",
        NcclResult.ncclTimeout => "operation timed out",
        _ => "unknown result code",
    };
}
