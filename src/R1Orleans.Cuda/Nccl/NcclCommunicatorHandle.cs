using System.Runtime.InteropServices;

namespace R1Orleans.Cuda.Nccl;

/// <summary>
/// An ncclComm_t. Released with ncclCommDestroy once it was finalized (ncclCommFinalize completed: every rank's work on
/// it flushed), otherwise with ncclCommAbort (an error, a timeout, or a dispose without finalizing), which never waits
/// for a peer.
/// </summary>
internal sealed class NcclCommunicatorHandle : SafeHandle
{
    private int _finalized;

    public NcclCommunicatorHandle(nint communicator)
        : base(0, ownsHandle: true) => SetHandle(communicator);

    public override bool IsInvalid => handle == 0;

    /// <summary>Whether ncclCommFinalize completed (then release destroys instead of aborting).</summary>
    public bool Finalized => Volatile.Read(ref _finalized) != 0;

    public void MarkFinalized() => Volatile.Write(ref _finalized, 1);

    protected override bool ReleaseHandle() =>
        Finalized ? NcclApi.ncclCommDestroy(handle) == 0 : NcclApi.ncclCommAbort(handle) == 0;
}
