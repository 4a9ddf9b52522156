using R1Orleans.Grains.Cluster;
using R1Orleans.Placement;
using R1Orleans.Transport.Cluster;

namespace R1Orleans.Cluster;

/// <summary>
/// The exchange over Orleans grain calls (<see cref="IExpertHolderGrain"/> on the holder's silo): one call per holder
/// per MoE layer step. The fallback where no UCX path exists, and the transport of in-process test clusters; CLUSTER.md
/// measures it at a few times a raw socket's cost.
/// </summary>
public sealed class OrleansExpertTransport(IGrainFactory grains) : IExpertTransport
{
    public async Task<IExpertReply> CallAsync(SiloId holder, ReadOnlyMemory<byte> request, TimeSpan deadline, CancellationToken cancellationToken = default)
    {
        IExpertHolderGrain grain = grains.GetGrain<IExpertHolderGrain>(holder.Value);
        try
        {
            byte[] reply = await grain.Run(request.ToArray()).WaitAsync(deadline, cancellationToken).ConfigureAwait(false);
            return new Reply(reply);
        }
        catch (TimeoutException e)
        {
            throw new ExpertStepFailedException(holder, -1, ExpertStepFailure.DeadlineExceeded, $"no reply within {deadline.TotalMilliseconds:0} ms", e);
        }
        catch (Exception e) when (e is SiloUnavailableException or OrleansMessageRejectionException)
        {
            throw new ExpertStepFailedException(holder, -1, ExpertStepFailure.Unreachable, e.Message, e);
        }
    }

    private sealed class Reply(byte[] bytes) : IExpertReply
    {
        public ReadOnlyMemory<byte> Bytes => bytes;

        public void Dispose()
        {
        }
    }
}
