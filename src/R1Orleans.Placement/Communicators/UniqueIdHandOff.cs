using System.Diagnostics;

namespace R1Orleans.Placement.Communicators;

/// <summary>
/// One rank's side of the rendezvous for one communicator generation, over the control plane's post and lookup (the
/// rendezvous grain in a silo, the plain <see cref="NcclRendezvous"/> in tests): rank 0 makes an id and posts it (if the
/// generation already holds another, from an earlier attempt of its own, it takes that one, so every rank agrees); the
/// others look it up until it is there. Every wait is bounded: past the deadline a <see cref="TimeoutException"/> names
/// the generation and its rank 0; a stale or conflicting generation throws <see cref="RendezvousRefusedException"/>.
/// </summary>
public sealed class UniqueIdHandOff(
    Func<CommunicatorGeneration, SiloId, byte[], Task<RendezvousReply>> post,
    Func<CommunicatorGeneration, SiloId, Task<RendezvousReply>> lookup)
{
    /// <summary>How long a rank waits between lookups while rank 0 has not posted.</summary>
    public TimeSpan PollInterval { get; init; } = TimeSpan.FromMilliseconds(20);

    /// <summary>The unique id <paramref name="self"/> builds its communicator of <paramref name="generation"/> with.</summary>
    /// <param name="makeId">Makes a new id (ncclGetUniqueId); called only on rank 0.</param>
    public async Task<byte[]> ObtainAsync(CommunicatorGeneration generation, SiloId self, Func<byte[]> makeId, TimeSpan deadline, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(generation);
        ArgumentNullException.ThrowIfNull(makeId);
        int rank = generation.RankOf(self);
        if (rank < 0)
        {
            throw new RendezvousRefusedException(RendezvousStatus.NotAllowed, $"{self} is not a rank of communicator {generation.Name}");
        }

        long started = Stopwatch.GetTimestamp();
        if (rank == 0)
        {
            RendezvousReply posted = await post(generation, self, makeId()).ConfigureAwait(false);
            if (posted.Status == RendezvousStatus.Ready)
            {
                return posted.UniqueId!;
            }

            if (posted.Status != RendezvousStatus.Conflict || !generation.Equals(posted.Held))
            {
                throw Refused(generation, self, posted);
            }

            // An id of this generation is already held (an earlier post of ours): everyone uses that one.
        }

        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            RendezvousReply reply = await lookup(generation, self).ConfigureAwait(false);
            if (reply.Status == RendezvousStatus.Ready)
            {
                return reply.UniqueId!;
            }

            if (reply.Status != RendezvousStatus.Pending)
            {
                throw Refused(generation, self, reply);
            }

            TimeSpan waited = Stopwatch.GetElapsedTime(started);
            if (waited >= deadline)
            {
                throw new TimeoutException($"communicator {generation.Name}: rank 0 ({generation.RankZero}) posted no unique id within {deadline.TotalMilliseconds:0} ms; rank {rank} ({self}) gives up on this generation");
            }

            TimeSpan left = deadline - waited;
            await Task.Delay(left < PollInterval ? left : PollInterval, cancellationToken).ConfigureAwait(false);
        }
    }

    private static RendezvousRefusedException Refused(CommunicatorGeneration generation, SiloId self, RendezvousReply reply) =>
        new(reply.Status, $"communicator {generation.Name}: the rendezvous refused {self} ({reply.Status}): {reply.Reason}");
}
