namespace R1Orleans.Cuda.Nccl;

/// <summary>
/// An NCCL wait passed its deadline (a dead or stalled peer): the communicator was aborted, so nothing hangs. The
/// message names the communicator and the step that waited.
/// </summary>
public sealed class NcclTimeoutException : TimeoutException
{
    public NcclTimeoutException(string communicator, string step, TimeSpan deadline)
        : base($"NCCL communicator {communicator}: {step} did not complete within {deadline.TotalMilliseconds:0.###} ms; the communicator was aborted (a peer is dead or stalled)")
    {
        Communicator = communicator;
        Step = step;
        Deadline = deadline;
    }

    public NcclTimeoutException(string message)
        : base(message)
    {
        Communicator = "";
        Step = "";
    }

    public NcclTimeoutException()
    {
        Communicator = "";
        Step = "";
    }

    public NcclTimeoutException(string message, Exception inner)
        : base(message, inner)
    {
        Communicator = "";
        Step = "";
    }

    /// <summary>The communicator's name (its generation and rank).</summary>
    public string Communicator { get; }

    /// <summary>What waited: the init, a layer step's exchange, the finalize.</summary>
    public string Step { get; }

    public TimeSpan Deadline { get; }
}
