using R1Orleans.Engine.Sampling;
using R1Orleans.Engine.Scheduling;

namespace R1Orleans.Gateway.Ranks;

/// <summary>One request the gateway runs: what it resumes from. Dispose ends the tracking.</summary>
public sealed class TrackedRequest : IDisposable
{
    private readonly List<int> _output = [];
    private readonly RequestTable _table;

    internal TrackedRequest(string id, string rank, int[] promptTokens, SamplingParams sampling, ulong seed, RequestTable table)
    {
        Id = id;
        Rank = rank;
        PromptTokens = promptTokens;
        Sampling = sampling;
        Seed = seed;
        _table = table;
    }

    public string Id { get; }

    /// <summary>The rank it runs on (changes when it is resumed elsewhere).</summary>
    public string Rank { get; set; }

    public int[] PromptTokens { get; }

    public SamplingParams Sampling { get; }

    public ulong Seed { get; }

    /// <summary>Tokens received so far.</summary>
    public int OutputCount
    {
        get
        {
            lock (_output)
            {
                return _output.Count;
            }
        }
    }

    public void Append(int token)
    {
        lock (_output)
        {
            _output.Add(token);
        }
    }

    /// <summary>The state another rank continues from: same prompt, same seed, sampling resumes at position <c>OutputTokens.Length</c>.</summary>
    public RequestState Snapshot()
    {
        lock (_output)
        {
            return new RequestState(Id, PromptTokens, [.. _output], Sampling, Seed);
        }
    }

    public void Dispose() => _table.End(this);
}
