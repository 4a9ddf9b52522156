namespace R1Orleans.Engine.Scheduling;

/// <summary>Counters of the engine since start (written by the engine thread, read by metrics).</summary>
public sealed class EngineStats
{
    public long Steps { get; set; }

    public long BatchedTokens { get; set; }

    public long GeneratedTokens { get; set; }

    public long Finished { get; set; }

    public long Preemptions { get; set; }

    public long DraftTokens { get; set; }

    public long AcceptedDraftTokens { get; set; }

    public double AcceptanceRate => DraftTokens == 0 ? 0 : (double)AcceptedDraftTokens / DraftTokens;
}
