using R1Orleans.Engine.Api;
using R1Orleans.Engine.Sampling;
using R1Orleans.Engine.Scheduling;

namespace R1Orleans.Gateway.Ranks;

/// <summary>
/// Where one request's generation runs: this silo's engine, or another silo's (a data-parallel attention rank of the
/// cluster). Every rank loads the same checkpoint, and batches are bitwise invariant, so any rank gives the same output.
/// </summary>
public interface IRank
{
    /// <summary>The rank's name (its silo), as metrics and <c>/cluster/status</c> show it.</summary>
    string Name { get; }

    /// <summary>Streams the events of an encoded prompt; the last one has Finish set.</summary>
    IAsyncEnumerable<TextEvent> GenerateAsync(EncodedPrompt prompt, SamplingParams sampling, CancellationToken cancellation);

    /// <summary>
    /// Continues a request another rank ran until it was lost, from the gateway's <paramref name="state"/> of it (its
    /// prompt, tokens so far and seed): only the events after those tokens are streamed.
    /// </summary>
    IAsyncEnumerable<TextEvent> ResumeAsync(EncodedPrompt prompt, RequestState state, CancellationToken cancellation);
}
