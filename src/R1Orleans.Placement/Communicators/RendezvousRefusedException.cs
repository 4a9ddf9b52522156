namespace R1Orleans.Placement.Communicators;

/// <summary>
/// The rendezvous refused a rank its communicator's unique id: the generation is stale (a newer placement is held), it
/// conflicts, or the rank is not one of its members. The rank builds no communicator for it.
/// </summary>
public sealed class RendezvousRefusedException : Exception
{
    public RendezvousRefusedException(RendezvousStatus status, string message)
        : base(message) => Status = status;

    public RendezvousRefusedException(string message)
        : base(message)
    {
    }

    public RendezvousRefusedException()
    {
    }

    public RendezvousRefusedException(string message, Exception inner)
        : base(message, inner)
    {
    }

    public RendezvousStatus Status { get; }
}
