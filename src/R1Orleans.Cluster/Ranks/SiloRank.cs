using Microsoft.Extensions.Hosting;
using R1Orleans.Engine.Api;
using R1Orleans.Engine.Scheduling;
using R1Orleans.Engine.Sampling;
using R1Orleans.Gateway;
using R1Orleans.Gateway.Ranks;
using R1Orleans.Grains.Ranks;
using R1Orleans.Model;
using R1Orleans.Transport.Cluster;

namespace R1Orleans.Cluster.Ranks;

/// <summary>
/// This silo's rank as other silos reach it through <see cref="IRankGrain"/>: the engine the silo loaded, and its cluster
/// node's figures. While the silo drains, its requests are handed back (<see cref="RankHandOff"/>): each stream ends with
/// <see cref="RankEvent.HandOff"/> and the calling gateway resumes the request on another rank.
/// </summary>
public sealed class SiloRank(ModelHost host, ClusterNode node, ClusterNodeOptions options, IHostApplicationLifetime lifetime) : ILocalRank
{
    public string ModelHash => node.ModelHash;

    public RankReport Report
    {
        get
        {
            InferenceEngine? engine = host.Engine;
            var exchange = node.RankExchangeInstance?.Statistics;
            return new RankReport(
                engine?.Core.Running ?? 0, engine?.Core.Waiting ?? 0, engine?.Stats.Finished ?? 0, engine?.Stats.GeneratedTokens ?? 0,
                exchange?.SentMessages ?? 0, exchange?.SentBytes ?? 0, exchange?.ReceivedMessages ?? 0, exchange?.ReceivedBytes ?? 0,
                node.Holder?.Load.Total ?? 0, node.Experts.Count, node.View.Current?.Version);
        }
    }

    public RankLoad Load => host.Engine is { } engine
        ? new RankLoad(engine.Core.Running, engine.Core.Waiting, engine.Core.MaxNumSeqs, !node.Draining)
        : new RankLoad(0, 0, 0, false);

    public IAsyncEnumerable<RankEvent> Generate(RankRequest request, CancellationToken cancellation)
    {
        InferenceEngine engine = host.Engine ?? throw new InvalidOperationException("this silo's model is still loading");
        SamplingParams sampling = RankWire.Sampling(request);
        EncodedPrompt prompt = RankWire.Prompt(request);
        return Stream(RankHandOff.Run(node.Self.Silo.Value, c => engine.GenerateAsync(prompt, sampling, c), 0, sampling.MaxTokens, node.DrainToken, cancellation));
    }

    public IAsyncEnumerable<RankEvent> Resume(RankRequest request, int[] generated, ulong seed, CancellationToken cancellation)
    {
        ArgumentNullException.ThrowIfNull(generated);
        InferenceEngine engine = host.Engine ?? throw new InvalidOperationException("this silo's model is still loading");
        var state = new RequestState("resumed", request.PromptTokens, generated, RankWire.Sampling(request), seed);
        EncodedPrompt prompt = RankWire.Prompt(request);
        return Stream(RankHandOff.Run(node.Self.Silo.Value, c => engine.ResumeAsync(prompt, state, c), generated.Length, state.Sampling.MaxTokens, node.DrainToken, cancellation));
    }

    public GateBias? CurrentGateBias => host.Engine?.CurrentGateBias;

    public long ApplyGateBias(GateBias bias)
    {
        if (host.Engine is not { } engine)
        {
            return -1;
        }

        engine.ApplyGateBias(bias);
        return engine.CurrentGateBias.Version;
    }

    public string Drain()
    {
        if (node.Draining)
        {
            return $"silo {node.Self.Silo} is already draining";
        }

        // The same path as SIGTERM: the host stops, the cluster node drains (requests handed off, experts placed elsewhere).
        node.BeginDrain();
        lifetime.StopApplication();
        return $"silo {node.Self.Silo} (node {node.Self.Node}) is draining: its requests move to other ranks, its experts are placed elsewhere, then it exits";
    }

    public void InjectReplyDelay(TimeSpan delay, TimeSpan duration)
    {
        if (!options.FaultInjection)
        {
            throw new InvalidOperationException($"fault injection is off on silo {node.Self.Silo}: start it with --fault-injection to let the chaos harness delay its replies");
        }

        ExpertHolder holder = node.Holder ?? throw new InvalidOperationException("this silo holds no experts yet");
        holder.ReplyDelay.Set(delay, duration);
    }

    private async IAsyncEnumerable<RankEvent> Stream(IAsyncEnumerable<TextEvent> events)
    {
        IAsyncEnumerator<TextEvent> e = events.GetAsyncEnumerator();
        try
        {
            while (true)
            {
                bool handedOff = false;
                bool more;
                try
                {
                    more = await e.MoveNextAsync().ConfigureAwait(false);
                }
                catch (RankUnavailableException)
                {
                    handedOff = true;
                    more = false;
                }
                catch (Exception) when (node.Draining)
                {
                    // The silo is going (its engine stopping under a request the drain could not wait for): the request
                    // moves to another rank rather than failing.
                    handedOff = true;
                    more = false;
                }

                if (handedOff)
                {
                    yield return RankEvent.HandOff;
                }

                if (!more)
                {
                    yield break;
                }

                yield return RankWire.Event(e.Current);
            }
        }
        finally
        {
            await e.DisposeAsync().ConfigureAwait(false);
        }
    }
}
