using System.Buffers;
using Orleans.Concurrency;
using R1Orleans.Grains.Placement;
using R1Orleans.Transport.Cluster;

namespace R1Orleans.Grains.Cluster;

/// <summary>
/// Thin over the silo's <see cref="ExpertHolder"/>. Reentrant, and the experts run on the thread pool, so the steps of
/// several ranks are served at once.
/// </summary>
[SiloBound, Reentrant]
public sealed class ExpertHolderGrain(ILocalExpertHolder local) : Grain, IExpertHolderGrain
{
    public async Task<byte[]> Run(byte[] request)
    {
        ExpertHolder holder = local.Holder ?? throw new InvalidOperationException("this silo holds no experts yet (its model is still loading)");
        await holder.ReplyDelay.WaitAsync().ConfigureAwait(ConfigureAwaitOptions.ContinueOnCapturedContext);
        return await Task.Run(() =>
        {
            var reply = new ArrayBufferWriter<byte>();
            holder.Serve(request, reply);
            return reply.WrittenSpan.ToArray();
        }).ConfigureAwait(ConfigureAwaitOptions.ContinueOnCapturedContext);
    }
}

/// <summary>The silo's expert holder, once its model is loaded.</summary>
public interface ILocalExpertHolder
{
    ExpertHolder? Holder { get; }
}
