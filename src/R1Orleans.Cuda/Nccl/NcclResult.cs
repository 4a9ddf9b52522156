namespace R1Orleans.Cuda.Nccl;

/// <summary>NCCL's ncclResult_t (nccl.h, values as in NCCL 2.28; ncclTimeout is 2.29's).</summary>
public enum NcclResult
{
    ncclSuccess = 0,
    ncclUnhandledCudaError = 1,
    ncclSystemError = 2,
    ncclInternalError = 3,
    ncclInvalidArgument = 4,
    ncclInvalidUsage = 5,
    ncclRemoteError = 6,

    /// <summary>A non-blocking communicator's call has started and not finished: poll ncclCommGetAsyncError.</summary>
    ncclInProgress = 7,
    ncclTimeout = 8,
}
