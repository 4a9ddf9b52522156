namespace R1Orleans.Placement;

/// <summary>Why a holder refused a step or a switch.</summary>
public enum FenceRefusal
{
    /// <summary>The stamp is older than what the holder serves (a lower epoch, or a version already retired).</summary>
    Stale,

    /// <summary>The stamp is newer than anything the holder has begun: retry once the holder has switched.</summary>
    Ahead,
}

/// <summary>
/// A holder refused a step (or a switch) planned with a placement version it does not serve. Names the stamp asked
/// for and the stamps served, so the rank can re-plan against the current version or wait for the switch.
/// </summary>
public sealed class PlacementFenceException : Exception
{
    public PlacementFenceException(PlacementStamp asked, IReadOnlyList<PlacementStamp> served, FenceRefusal reason)
        : base(Describe(asked, served, reason))
    {
        Asked = asked;
        Served = served;
        Reason = reason;
    }

    public PlacementFenceException()
        : this("placement fence refused")
    {
    }

    public PlacementFenceException(string message)
        : base(message)
    {
        Served = [];
    }

    public PlacementFenceException(string message, Exception innerException)
        : base(message, innerException)
    {
        Served = [];
    }

    public PlacementStamp Asked { get; }

    public IReadOnlyList<PlacementStamp> Served { get; }

    public FenceRefusal Reason { get; }

    private static string Describe(PlacementStamp asked, IReadOnlyList<PlacementStamp> served, FenceRefusal reason)
    {
        string serving = served.Count == 0 ? "nothing yet" : string.Join(", ", served);
        string why = reason == FenceRefusal.Stale ? "stale" : "not begun here yet";
        return $"placement {asked} is {why}: this holder serves {serving}";
    }
}
