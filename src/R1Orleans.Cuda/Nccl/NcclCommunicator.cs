using System.Runtime.InteropServices;

namespace R1Orleans.Cuda.Nccl;

/// <summary>
/// One rank of an NCCL communicator, created non-blocking (every call returns at once) so that every wait has a deadline:
/// <see cref="Deadline"/> for the exchange of a step, <see cref="Initialize"/>'s for the setup. A wait that passes its
/// deadline aborts the communicator and throws <see cref="NcclTimeoutException"/>; an asynchronous error throws
/// <see cref="NcclException"/>; either way the communicator is finished (<see cref="IsAborted"/> or failed) and the
/// caller builds a new one for the next generation. Dispose finalizes within the deadline, else aborts. Calls must come
/// from a thread whose current CUDA context is the device's (<see cref="CudaContext.Open"/> makes it current).
/// </summary>
public sealed class NcclCommunicator : IDisposable
{
    private readonly NcclCommunicatorHandle _handle;
    private int _failed;

    private NcclCommunicator(NcclCommunicatorHandle handle, string name, int ranks, int rank, TimeSpan deadline)
    {
        _handle = handle;
        Name = name;
        Ranks = ranks;
        Rank = rank;
        Deadline = deadline;
    }

    /// <summary>The communicator's name in messages: its generation and this rank.</summary>
    public string Name { get; }

    public int Ranks { get; }

    public int Rank { get; }

    /// <summary>How long one step's wait (a grouped send/receive, a stream's completion, the finalize) may take.</summary>
    public TimeSpan Deadline { get; set; }

    /// <summary>Whether the communicator was aborted (a deadline passed, an error, or <see cref="Abort"/>).</summary>
    public bool IsAborted => _handle.IsClosed;

    private nint Handle => _handle.DangerousGetHandle();

    /// <summary>
    /// Creates this rank's communicator (ncclCommInitRankConfig, non-blocking) and waits until every rank has joined or
    /// <paramref name="deadline"/> passes (then it is aborted: a rank that never comes cannot hang the others forever).
    /// </summary>
    public static unsafe NcclCommunicator Initialize(NcclUniqueId id, int ranks, int rank, string name, TimeSpan deadline)
    {
        ArgumentNullException.ThrowIfNull(id);
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentOutOfRangeException.ThrowIfLessThan(ranks, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(rank);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(rank, ranks);
        NcclLibrary.Load();
        nint commName = Marshal.StringToCoTaskMemUTF8(name);
        try
        {
            NcclConfig config = NcclConfig.NonBlocking(commName);
            int status = NcclApi.ncclCommInitRankConfig(out nint comm, ranks, id.ToNative(), rank, &config);
            if (comm == 0)
            {
                NcclStatus.Check(status, "ncclCommInitRankConfig");
                throw new NcclException($"ncclCommInitRankConfig returned no communicator for {name} (rank {rank} of {ranks})");
            }

            var communicator = new NcclCommunicator(new NcclCommunicatorHandle(comm), name, ranks, rank, deadline);
            try
            {
                NcclStatus.CheckStarted(status, "ncclCommInitRankConfig", comm);
                communicator.WaitAsyncError("init", "ncclCommInitRankConfig", deadline);
                NcclStatus.Check(NcclApi.ncclCommCount(comm, out int count), "ncclCommCount", comm);
                NcclStatus.Check(NcclApi.ncclCommUserRank(comm, out int user), "ncclCommUserRank", comm);
                if (count != ranks || user != rank)
                {
                    throw new NcclException($"communicator {name}: NCCL reports rank {user} of {count}, rank {rank} of {ranks} was asked for");
                }
            }
            catch
            {
                communicator.Abort();
                throw;
            }

            return communicator;
        }
        finally
        {
            Marshal.ZeroFreeCoTaskMemUTF8(commName);
        }
    }

    /// <summary>
    /// One grouped exchange (ncclGroupStart, every send and receive, ncclGroupEnd) enqueued on <paramref name="stream"/>;
    /// returns once NCCL has taken the group (the transfers then run on the stream: wait with <see cref="WaitFor"/>).
    /// </summary>
    public void SendReceive(ReadOnlySpan<NcclTransfer> sends, ReadOnlySpan<NcclTransfer> receives, CudaStream stream, string step)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ThrowIfFinished();
        try
        {
            NcclStatus.Check(NcclApi.ncclGroupStart(), "ncclGroupStart", Handle);
            foreach (NcclTransfer send in sends)
            {
                NcclStatus.CheckStarted(NcclApi.ncclSend(send.Buffer, (nuint)send.Count, (int)send.Type, send.Peer, Handle, stream.Handle), "ncclSend", Handle);
            }

            foreach (NcclTransfer receive in receives)
            {
                NcclStatus.CheckStarted(NcclApi.ncclRecv(receive.Buffer, (nuint)receive.Count, (int)receive.Type, receive.Peer, Handle, stream.Handle), "ncclRecv", Handle);
            }

            NcclStatus.CheckStarted(NcclApi.ncclGroupEnd(), "ncclGroupEnd", Handle);
            WaitAsyncError(step, "ncclGroupEnd", Deadline);
        }
        catch (NcclException)
        {
            Fail();
            throw;
        }
    }

    /// <summary>
    /// Waits until the work recorded before <paramref name="done"/> has finished, checking the communicator's
    /// asynchronous error on the way; at the deadline the communicator is aborted (which ends the stalled transfers).
    /// </summary>
    public void WaitFor(CudaEvent done, string step)
    {
        ArgumentNullException.ThrowIfNull(done);
        ThrowIfFinished();
        try
        {
            NcclDeadline.Wait(
                () =>
                {
                    int status = AsyncError();
                    return status != (int)NcclResult.ncclSuccess ? status : done.IsComplete() ? status : (int)NcclResult.ncclInProgress;
                },
                Deadline, Name, step, "cuEventQuery/ncclCommGetAsyncError", Abort, Handle);
        }
        catch (NcclException)
        {
            Fail();
            throw;
        }
    }

    /// <summary>Aborts now (ncclCommAbort): pending operations on every rank fail instead of waiting. Idempotent.</summary>
    public void Abort() => _handle.Dispose();

    /// <summary>Finalizes within <see cref="Deadline"/> and destroys; aborts instead after an error, or when the finalize does not complete.</summary>
    public void Dispose()
    {
        if (_handle.IsClosed)
        {
            return;
        }

        if (Volatile.Read(ref _failed) == 0)
        {
            try
            {
                if (NcclStatus.CheckStarted(NcclApi.ncclCommFinalize(Handle), "ncclCommFinalize", Handle))
                {
                    WaitAsyncError("finalize", "ncclCommFinalize", Deadline);
                }

                _handle.MarkFinalized();
            }
            catch (Exception e) when (e is NcclException or NcclTimeoutException)
            {
                // Not finalized: the release below aborts.
            }
        }

        _handle.Dispose();
    }

    private void WaitAsyncError(string step, string call, TimeSpan deadline) =>
        NcclDeadline.Wait(AsyncError, deadline, Name, step, call, Abort, Handle);

    private int AsyncError()
    {
        int status = NcclApi.ncclCommGetAsyncError(Handle, out int asyncError);
        return status != (int)NcclResult.ncclSuccess ? status : asyncError;
    }

    private void Fail() => Volatile.Write(ref _failed, 1);

    private void ThrowIfFinished()
    {
        ObjectDisposedException.ThrowIf(_handle.IsClosed, this);
        if (Volatile.Read(ref _failed) != 0)
        {
            throw new NcclException($"communicator {Name} failed earlier; build a new one for the next generation");
        }
    }
}
