namespace R1Orleans.Gateway.Ranks;

/// <summary>
/// The rank running a request is gone (its silo died, or stopped answering): the gateway resumes the request on another
/// rank from the state it keeps. Any other failure of a rank ends the request with an explicit error.
/// </summary>
public sealed class RankUnavailableException : Exception
{
    public RankUnavailableException(string rank, string reason, Exception? inner = null)
        : base($"rank {rank} is unavailable: {reason}", inner)
    {
        Rank = rank;
    }

    public RankUnavailableException()
    {
        Rank = "";
    }

    public RankUnavailableException(string message)
        : base(message)
    {
        Rank = "";
    }

    public RankUnavailableException(string message, Exception inner)
        : base(message, inner)
    {
        Rank = "";
    }

    public string Rank { get; }
}
