using System.Runtime.CompilerServices;
using R1Orleans.Engine.Api;
using R1Orleans.Engine.Sampling;
using R1Orleans.Gateway.Ranks;
using R1Orleans.Grains.Ranks;

namespace R1Orleans.Cluster.Ranks;

/// <summary>Another silo's rank: the request goes to its <see cref="IRankGrain"/> and the tokens stream back as it makes them.</summary>
public sealed class RemoteRank(string name, IRankGrain grain) : IRank
{
    public string Name => name;

    public async IAsyncEnumerable<TextEvent> GenerateAsync(EncodedPrompt prompt, SamplingParams sampling, [EnumeratorCancellation] CancellationToken cancellation)
    {
        // Batches of one: each token is forwarded as soon as the rank makes it.
        await foreach (RankEvent e in grain.Generate(RankWire.Request(prompt, sampling), cancellation).WithBatchSize(1).WithCancellation(cancellation).ConfigureAwait(false))
        {
            yield return RankWire.Event(e);
        }
    }
}
