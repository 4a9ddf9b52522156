namespace R1Orleans.Engine.Scheduling;

/// <summary>Limits of the continuous-batching scheduler (names after vLLM's where they mean the same).</summary>
public sealed record SchedulerConfig
{
    /// <summary>Tokens one step may process (decode tokens plus prefill chunks).</summary>
    public int MaxNumBatchedTokens { get; init; } = 256;

    /// <summary>Sequences running at once.</summary>
    public int MaxNumSeqs { get; init; } = 64;

    /// <summary>Longest prompt plus output; 0 means the model's max_position_embeddings.</summary>
    public int MaxModelLen { get; init; }

    /// <summary>
    /// Requests allowed to wait beyond the running slots: Submit refuses a request when waiting + running would exceed
    /// MaxWaiting + MaxNumSeqs (the gateway's 429).
    /// </summary>
    public int MaxWaiting { get; init; } = 1024;

    /// <summary>Draft one token per step with the MTP layer and verify it in the next step (greedy requests).</summary>
    public bool SpeculativeMtp { get; init; }
}
