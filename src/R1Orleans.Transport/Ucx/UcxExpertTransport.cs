using System.Buffers;
using System.Collections.Concurrent;
using R1Orleans.Interop.Ucx;
using R1Orleans.Placement;
using R1Orleans.Transport.Cluster;

namespace R1Orleans.Transport.Ucx;

/// <summary>
/// The exchange over UCX (shared memory between silos of one host, TCP or RDMA verbs across hosts; <c>UCX_TLS</c> and
/// UCX's other variables apply): one active message per holder per MoE layer step and one reply. Holders' worker
/// addresses come from the control plane (<paramref name="addressOf"/>). A peer UCX reports failed is dropped from
/// the cache, so the next step connects again (to a restarted silo's new address). As a holder, requests are copied
/// off UCX's progress thread and served on the thread pool.
/// </summary>
public sealed class UcxExpertTransport(UcxNode node, Func<SiloId, byte[]?> addressOf) : IExpertTransport
{
    private readonly ConcurrentDictionary<SiloId, UcxPeer> _peers = new();

    /// <summary>This silo's worker address, to publish through the control plane.</summary>
    public ReadOnlyMemory<byte> Address => node.WorkerAddress;

    /// <summary>Serves other ranks' steps with <paramref name="holder"/>.</summary>
    public void Serve(ExpertHolder holder)
    {
        ArgumentNullException.ThrowIfNull(holder);
        node.SetRequestHandler((request, reply) =>
        {
            byte[] copy = ArrayPool<byte>.Shared.Rent(request.Length);
            request.CopyTo(copy);
            int length = request.Length;
            if (holder.ReplyDelay.Current > TimeSpan.Zero)
            {
                // Fault injection: answer late (a slowed silo), without holding a pool thread meanwhile.
                _ = Task.Run(async () =>
                {
                    await holder.ReplyDelay.WaitAsync().ConfigureAwait(false);
                    ServeCopy(holder, copy, length, reply);
                });
                return;
            }

            ThreadPool.UnsafeQueueUserWorkItem(_ => ServeCopy(holder, copy, length, reply), null);
        });
    }

    private static void ServeCopy(ExpertHolder holder, byte[] copy, int length, ReplyWriter reply)
    {
        try
        {
            var output = new ArrayBufferWriter<byte>();
            holder.Serve(copy.AsMemory(0, length), output);
            reply.Send(output.WrittenSpan);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            reply.Fail();
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(copy);
        }
    }

    public async Task<IExpertReply> CallAsync(SiloId holder, ReadOnlyMemory<byte> request, TimeSpan deadline, CancellationToken cancellationToken = default)
    {
        UcxPeer peer = _peers.GetOrAdd(holder, Connect);
        try
        {
            ReplyLease lease = await node.CallAsync(peer, request, deadline, cancellationToken).ConfigureAwait(false);
            return new Reply(lease);
        }
        catch (PeerUnreachableException e)
        {
            _peers.TryRemove(new KeyValuePair<SiloId, UcxPeer>(holder, peer));
            throw new ExpertStepFailedException(holder, -1, ExpertStepFailure.Unreachable, e.Message, e);
        }
        catch (DeadlineExceededException e)
        {
            throw new ExpertStepFailedException(holder, -1, ExpertStepFailure.DeadlineExceeded, e.Message, e);
        }
        catch (RemoteHandlerException e)
        {
            throw new ExpertStepFailedException(holder, -1, ExpertStepFailure.Failed, e.Message, e);
        }
    }

    private UcxPeer Connect(SiloId holder)
    {
        byte[] address = addressOf(holder)
            ?? throw new ExpertStepFailedException(holder, -1, ExpertStepFailure.Unreachable, "the control plane has no UCX address for it");
        return node.Connect(address, holder.Value);
    }

    private sealed class Reply(ReplyLease lease) : IExpertReply
    {
        public ReadOnlyMemory<byte> Bytes => lease.Memory;

        public void Dispose() => lease.Dispose();
    }
}
