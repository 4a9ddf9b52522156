using System.Threading.Channels;
using R1Orleans.Engine.Sampling;

namespace R1Orleans.Engine.Scheduling;

/// <summary>A request inside the engine: its tokens, how many are in its cache, its draft, and where its events go.</summary>
internal sealed class SequenceState(GenerationRequest request, ulong seed, long arrival, PagedSequenceCache cache, IIncrementalText? text, ChannelWriter<GenerationEvent> sink)
{
    private volatile bool _cancelRequested;

    public string Id => request.Id;

    public int[] Prompt => request.PromptTokens;

    public List<int> Output { get; } = [];

    public SamplingParams Sampling => request.Sampling;

    public ulong Seed => seed;

    public long Arrival => arrival;

    public PagedSequenceCache Cache => cache;

    /// <summary>Tokens whose latent entries are in the cache (a prefix of Prompt + Output).</summary>
    public int Computed { get; set; }

    /// <summary>The MTP layer's guess for the token after the last one, verified in the next step.</summary>
    public int? Draft { get; set; }

    public TokenHistory History { get; } = new(request.PromptTokens);

    public StopStringMatcher Stops { get; } = new(request.Sampling.Stop);

    public IIncrementalText? Text => text;

    public ChannelWriter<GenerationEvent> Sink => sink;

    public bool CancelRequested => _cancelRequested;

    public int Total => Prompt.Length + Output.Count;

    public int Preemptions { get; set; }

    public int TokenAt(int i) => i < Prompt.Length ? Prompt[i] : Output[i - Prompt.Length];

    public void RequestCancel() => _cancelRequested = true;

    public Usage Usage => new(Prompt.Length, Output.Count);

    public RequestState Snapshot() => new(Id, Prompt, [.. Output], Sampling, Seed);
}
