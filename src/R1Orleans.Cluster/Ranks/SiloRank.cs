using System.Runtime.CompilerServices;
using R1Orleans.Engine.Api;
using R1Orleans.Engine.Scheduling;
using R1Orleans.Gateway;
using R1Orleans.Grains.Ranks;

namespace R1Orleans.Cluster.Ranks;

/// <summary>This silo's rank as other silos reach it through <see cref="IRankGrain"/>: the engine the silo loaded, and its cluster node's figures.</summary>
public sealed class SiloRank(ModelHost host, ClusterNode node) : ILocalRank
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

    public async IAsyncEnumerable<RankEvent> Generate(RankRequest request, [EnumeratorCancellation] CancellationToken cancellation)
    {
        InferenceEngine engine = host.Engine ?? throw new InvalidOperationException("this silo's model is still loading");
        await foreach (TextEvent e in engine.GenerateAsync(RankWire.Prompt(request), RankWire.Sampling(request), cancellation).ConfigureAwait(false))
        {
            yield return RankWire.Event(e);
        }
    }

    public async IAsyncEnumerable<RankEvent> Resume(RankRequest request, int[] generated, ulong seed, [EnumeratorCancellation] CancellationToken cancellation)
    {
        InferenceEngine engine = host.Engine ?? throw new InvalidOperationException("this silo's model is still loading");
        var state = new RequestState("resumed", request.PromptTokens, generated, RankWire.Sampling(request), seed);
        await foreach (TextEvent e in engine.ResumeAsync(RankWire.Prompt(request), state, cancellation).ConfigureAwait(false))
        {
            yield return RankWire.Event(e);
        }
    }
}
