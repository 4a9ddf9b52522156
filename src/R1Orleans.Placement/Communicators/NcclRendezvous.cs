namespace R1Orleans.Placement.Communicators;

/// <summary>
/// Hands an NCCL communicator's unique id from its rank 0 to the other ranks through the control plane (the grain over it
/// is one per cluster). It holds one generation at a time, the newest posted: rank 0 of a generation posts the id it made,
/// every rank looks it up (Pending until it is there) and then initializes its communicator with it. A post or lookup for
/// an older generation is <see cref="RendezvousStatus.Stale"/>; a second, different id for the held generation is a
/// <see cref="RendezvousStatus.Conflict"/> (the same id again is accepted: a retried post). Ids are opaque
/// <see cref="UniqueIdBytes"/>-byte values. Not thread-safe (a grain calls it one message at a time).
/// </summary>
public sealed class NcclRendezvous
{
    /// <summary>NCCL_UNIQUE_ID_BYTES.</summary>
    public const int UniqueIdBytes = 128;

    private byte[]? _id;

    /// <summary>The newest generation posted, or null.</summary>
    public CommunicatorGeneration? Held { get; private set; }

    /// <summary>Rank 0 of <paramref name="generation"/> (<paramref name="poster"/>) posts the unique id it made.</summary>
    public RendezvousReply Post(CommunicatorGeneration generation, SiloId poster, ReadOnlySpan<byte> uniqueId)
    {
        ArgumentNullException.ThrowIfNull(generation);
        if (uniqueId.Length != UniqueIdBytes)
        {
            throw new ArgumentException($"an NCCL unique id is {UniqueIdBytes} bytes, got {uniqueId.Length}", nameof(uniqueId));
        }

        if (poster != generation.RankZero)
        {
            return Refuse(RendezvousStatus.NotAllowed, $"{poster} is not rank 0 of communicator {generation.Name} ({generation.RankZero} is): only rank 0 posts its id");
        }

        if (Held is { } held)
        {
            if (Same(held, generation, out RendezvousReply? conflict))
            {
                return conflict ?? (uniqueId.SequenceEqual(_id)
                    ? Ready()
                    : Refuse(RendezvousStatus.Conflict, $"communicator {generation.Name} already has a unique id ({Hex(_id)}…); a second, different one ({Hex(uniqueId)}…) is refused"));
            }

            if (!generation.IsNewerThan(held))
            {
                return Stale(generation, held);
            }
        }

        Held = generation;
        _id = uniqueId.ToArray();
        return Ready();
    }

    /// <summary>A rank (<paramref name="asker"/>) of <paramref name="generation"/> asks for its unique id.</summary>
    public RendezvousReply Lookup(CommunicatorGeneration generation, SiloId asker)
    {
        ArgumentNullException.ThrowIfNull(generation);
        if (generation.RankOf(asker) < 0)
        {
            return Refuse(RendezvousStatus.NotAllowed, $"{asker} is not a rank of communicator {generation.Name}");
        }

        if (Held is not { } held || generation.IsNewerThan(held))
        {
            return new RendezvousReply(RendezvousStatus.Pending, null, $"rank 0 ({generation.RankZero}) has not posted the id of communicator {generation.Name} yet", Held);
        }

        if (Same(held, generation, out RendezvousReply? conflict))
        {
            return conflict ?? Ready();
        }

        return Stale(generation, held);
    }

    /// <summary>Whether both name the same stamp; if they do over different ranks, <paramref name="conflict"/> says so.</summary>
    private bool Same(CommunicatorGeneration held, CommunicatorGeneration asked, out RendezvousReply? conflict)
    {
        conflict = null;
        if (held.Stamp != asked.Stamp)
        {
            return false;
        }

        if (!held.Equals(asked))
        {
            conflict = Refuse(RendezvousStatus.Conflict, $"placement {asked.Stamp} is held over ranks [{string.Join(", ", held.Ranks)}], not [{string.Join(", ", asked.Ranks)}]");
        }

        return true;
    }

    private RendezvousReply Ready() => new(RendezvousStatus.Ready, (byte[])_id!.Clone(), null, Held);

    private RendezvousReply Stale(CommunicatorGeneration asked, CommunicatorGeneration held) =>
        Refuse(RendezvousStatus.Stale, $"communicator {asked.Name} is older than {held.Name}, which the rendezvous holds: take up placement {held.Stamp} first");

    private RendezvousReply Refuse(RendezvousStatus status, string reason) => new(status, null, reason, Held);

    private static string Hex(ReadOnlySpan<byte> id) => Convert.ToHexString(id[..8]);
}
