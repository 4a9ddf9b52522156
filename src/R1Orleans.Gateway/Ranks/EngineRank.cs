using R1Orleans.Engine.Api;
using R1Orleans.Engine.Sampling;
using R1Orleans.Engine.Scheduling;

namespace R1Orleans.Gateway.Ranks;

/// <summary>A rank that is an engine in this process.</summary>
public sealed class EngineRank(string name, InferenceEngine engine) : IRank
{
    public string Name => name;

    public InferenceEngine Engine => engine;

    public IAsyncEnumerable<TextEvent> GenerateAsync(EncodedPrompt prompt, SamplingParams sampling, CancellationToken cancellation) =>
        engine.GenerateAsync(prompt, sampling, cancellation);

    public IAsyncEnumerable<TextEvent> ResumeAsync(EncodedPrompt prompt, RequestState state, CancellationToken cancellation) =>
        engine.ResumeAsync(prompt, state, cancellation);
}
