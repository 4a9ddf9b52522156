using R1Orleans.Engine.Api;
using R1Orleans.Engine.Sampling;
using R1Orleans.Engine.Scheduling;

namespace R1Orleans.Gateway.Ranks;

/// <summary>
/// A rank that is an engine in this process. When <paramref name="handOff"/> fires (its silo drains), its requests move
/// to other ranks or finish here, as <see cref="RankHandOff"/> decides.
/// </summary>
public sealed class EngineRank(string name, InferenceEngine engine, CancellationToken handOff = default) : IRank
{
    public string Name => name;

    public InferenceEngine Engine => engine;

    public IAsyncEnumerable<TextEvent> GenerateAsync(EncodedPrompt prompt, SamplingParams sampling, CancellationToken cancellation)
    {
        ArgumentNullException.ThrowIfNull(sampling);
        return RankHandOff.Run(name, c => engine.GenerateAsync(prompt, sampling, c), 0, sampling.MaxTokens, handOff, cancellation);
    }

    public IAsyncEnumerable<TextEvent> ResumeAsync(EncodedPrompt prompt, RequestState state, CancellationToken cancellation)
    {
        ArgumentNullException.ThrowIfNull(state);
        return RankHandOff.Run(name, c => engine.ResumeAsync(prompt, state, c), state.OutputTokens.Length, state.Sampling.MaxTokens, handOff, cancellation);
    }
}
