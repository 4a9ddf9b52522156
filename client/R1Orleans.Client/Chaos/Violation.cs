namespace R1Orleans.Client.Chaos;

/// <summary>The kinds of violation a chaos history can show.</summary>
public static class ViolationKind
{
    /// <summary>A request still running at the bound, or that ended after it.</summary>
    public const string PastBound = "past-bound";

    /// <summary>A completed answer whose tokens repeat some (a resumed stream that sent tokens twice).</summary>
    public const string TokenRepeated = "token-repeated";

    /// <summary>A completed answer with tokens that are not the reference's and not a repetition.</summary>
    public const string TokenExtra = "token-extra";

    /// <summary>A completed answer that lacks some of the reference's tokens.</summary>
    public const string TokenMissing = "token-missing";

    /// <summary>A completed answer that differs from the fault-free single silo's.</summary>
    public const string Differs = "differs";

    /// <summary>The server's completion token count is not the number of tokens it sent.</summary>
    public const string UsageMismatch = "usage-mismatch";

    /// <summary>A completed request with no reference to compare it with.</summary>
    public const string NoReference = "no-reference";

    /// <summary>An explicit error, though a survivor could have served the request (its gateway was not killed).</summary>
    public const string ErrorWhereSurvivorCouldServe = "error-where-survivor-could-serve";

    /// <summary>A request that ended with neither an answer nor an error (a cut stream, a reset), its gateway alive.</summary>
    public const string SilentFailure = "silent-failure";

    /// <summary>A silo that joined but never showed in the gateway's cluster status (a second cluster, say, after Redis lost its data).</summary>
    public const string JoinNotSeen = "join-not-seen";

    /// <summary>A fault of the schedule that the harness could not inject (no running worker left, say).</summary>
    public const string FaultNotInjected = "fault-not-injected";
}

/// <summary>One thing a chaos history shows that must not happen: which request (if one), the kind, and what exactly.</summary>
public sealed record Violation(int? RequestId, string Kind, string Message)
{
    public override string ToString() => RequestId is int id ? $"request {id}: {Kind}: {Message}" : $"{Kind}: {Message}";
}
