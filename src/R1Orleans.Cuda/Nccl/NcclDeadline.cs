using System.Diagnostics;

namespace R1Orleans.Cuda.Nccl;

/// <summary>
/// The wait behind every NCCL call on a non-blocking communicator: poll (ncclCommGetAsyncError, and for enqueued work
/// the stream's event) until it says done, an error, or the deadline. An error throws an <see cref="NcclException"/>;
/// the deadline aborts the communicator (ncclCommAbort: every rank's pending operation on it fails instead of waiting for
/// a dead peer) and throws an <see cref="NcclTimeoutException"/> naming the communicator and the step. A dead peer never
/// hangs a step. Polls spin (yielding) for the first <see cref="SpinBeforeSleep"/>, then sleep 1 ms between polls.
/// </summary>
internal static class NcclDeadline
{
    /// <summary>How long a wait yields between polls before it sleeps between them (a decode step's exchange is shorter).</summary>
    public static readonly TimeSpan SpinBeforeSleep = TimeSpan.FromMilliseconds(2);

    /// <summary>
    /// Polls <paramref name="poll"/> (an ncclResult_t: ncclSuccess done, ncclInProgress not yet, anything else failed)
    /// until done, failed or <paramref name="deadline"/> has passed; at the deadline <paramref name="abort"/> runs before
    /// the timeout is thrown. The first poll always happens, so a zero deadline still sees a call that already finished.
    /// </summary>
    public static void Wait(Func<int> poll, TimeSpan deadline, string communicator, string step, string call, Action abort, nint communicatorHandle = 0)
    {
        ArgumentNullException.ThrowIfNull(poll);
        ArgumentNullException.ThrowIfNull(abort);
        long started = Stopwatch.GetTimestamp();
        while (true)
        {
            int status = poll();
            if (status == (int)NcclResult.ncclSuccess)
            {
                return;
            }

            if (status != (int)NcclResult.ncclInProgress)
            {
                throw NcclStatus.Failure(status, $"{call} ({step} on {communicator})", communicatorHandle);
            }

            TimeSpan waited = Stopwatch.GetElapsedTime(started);
            if (waited >= deadline)
            {
                abort();
                throw new NcclTimeoutException(communicator, step, deadline);
            }

            if (waited < SpinBeforeSleep)
            {
                Thread.Yield();
            }
            else
            {
                Thread.Sleep(1);
            }
        }
    }
}
