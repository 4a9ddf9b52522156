using R1Orleans.Placement;

namespace R1Orleans.Transport.Cluster;

/// <summary>Why a holder did not answer a step.</summary>
public enum ExpertStepFailure
{
    /// <summary>The holder's process or connection is gone (the data path noticed first).</summary>
    Unreachable,

    /// <summary>No reply within the step deadline (a paused, overloaded or partitioned holder).</summary>
    DeadlineExceeded,

    /// <summary>The holder does not serve the step's placement version.</summary>
    Fenced,

    /// <summary>The holder answered with an error.</summary>
    Failed,
}

/// <summary>
/// A MoE layer step could not be completed by one of its holders. Names the silo, the layer and why, so the caller can
/// re-dispatch to a replica or wait for a new placement (the failover issue); never swallowed: a missing expert is
/// never skipped.
/// </summary>
public sealed class ExpertStepFailedException : Exception
{
    public ExpertStepFailedException(SiloId holder, int layer, ExpertStepFailure failure, string reason, Exception? inner = null)
        : base($"layer {layer}: expert holder {holder} {Describe(failure)}: {reason}", inner)
    {
        Holder = holder;
        Layer = layer;
        Failure = failure;
        Reason = reason;
    }

    public ExpertStepFailedException()
    {
    }

    public ExpertStepFailedException(string message)
        : base(message)
    {
    }

    public ExpertStepFailedException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    public SiloId Holder { get; }

    public int Layer { get; }

    public ExpertStepFailure Failure { get; }

    /// <summary>The reason alone, without the holder and layer.</summary>
    public string Reason { get; } = "";

    private static string Describe(ExpertStepFailure failure) => failure switch
    {
        ExpertStepFailure.Unreachable => "is unreachable",
        ExpertStepFailure.DeadlineExceeded => "did not answer in time",
        ExpertStepFailure.Fenced => "refused the placement version",
        _ => "failed the step",
    };
}
