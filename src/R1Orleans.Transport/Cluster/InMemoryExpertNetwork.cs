using System.Buffers;
using System.Collections.Concurrent;
using R1Orleans.Placement;

namespace R1Orleans.Transport.Cluster;

/// <summary>
/// The exchange's transport between silos of one process (Orleans' in-process test clusters): holders register by
/// silo, and a call runs the holder's <see cref="ExpertHolder.Serve"/> on the thread pool with the same bytes a network
/// transport would carry (after the holder's injected reply delay, if any, as the UCX transport does). A silo that unregistered (stopped) is unreachable.
/// </summary>
public sealed class InMemoryExpertNetwork : IExpertTransport
{
    private readonly ConcurrentDictionary<SiloId, ExpertHolder> _holders = new();

    public void Register(SiloId silo, ExpertHolder holder) => _holders[silo] = holder ?? throw new ArgumentNullException(nameof(holder));

    public void Unregister(SiloId silo) => _holders.TryRemove(silo, out _);

    public async Task<IExpertReply> CallAsync(SiloId holder, ReadOnlyMemory<byte> request, TimeSpan deadline, CancellationToken cancellationToken = default)
    {
        if (!_holders.TryGetValue(holder, out ExpertHolder? target))
        {
            throw new ExpertStepFailedException(holder, -1, ExpertStepFailure.Unreachable, "no such silo in this process");
        }

        Task<Reply> serving = Task.Run(
            async () =>
            {
                await target.ReplyDelay.WaitAsync(cancellationToken).ConfigureAwait(false);
                var writer = new ArrayBufferWriter<byte>();
                target.Serve(request, writer);
                return new Reply(writer);
            },
            cancellationToken);
        try
        {
            return await serving.WaitAsync(deadline, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException e)
        {
            throw new ExpertStepFailedException(holder, -1, ExpertStepFailure.DeadlineExceeded, $"no reply within {deadline.TotalMilliseconds:0} ms", e);
        }
    }

    private sealed class Reply(ArrayBufferWriter<byte> writer) : IExpertReply
    {
        public ReadOnlyMemory<byte> Bytes => writer.WrittenMemory;

        public void Dispose()
        {
        }
    }
}
