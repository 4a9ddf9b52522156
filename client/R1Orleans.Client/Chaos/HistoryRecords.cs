using System.Text.Json.Serialization;
using R1Orleans.Client.Http;

namespace R1Orleans.Client.Chaos;

/// <summary>
/// One line of a chaos history (JSON lines, <c>"type"</c> says which): the run, a request, a fault, or a change of the
/// cluster's status as the gateway reports it. Times are seconds from the start of the workload.
/// </summary>
[JsonPolymorphic(TypeDiscriminatorPropertyName = "type")]
[JsonDerivedType(typeof(RunRecord), "run")]
[JsonDerivedType(typeof(RequestRecord), "request")]
[JsonDerivedType(typeof(FaultRecord), "fault")]
[JsonDerivedType(typeof(StatusRecord), "status")]
public abstract record HistoryRecord;

/// <summary>The run: when the workload started (UTC), the schedule, the silos (and Redis) at the start, the per-request bound, the command line.</summary>
public sealed record RunRecord(DateTimeOffset StartedUtc, string Schedule, IReadOnlyList<RunProcess> Processes, double BoundSeconds, string Command) : HistoryRecord;

/// <summary>A process of the run: a silo (<c>s0</c>…, with its HTTP URL if it has one) or <c>redis</c>, with its PID when the harness started it.</summary>
public sealed record RunProcess(string Name, int? Pid, string? Url);

/// <summary>How a request ended.</summary>
public enum RequestStatus
{
    /// <summary>A whole answer: a finish reason, and for a stream <c>[DONE]</c>.</summary>
    Completed,

    /// <summary>The server said it failed: an HTTP error status or an error event in the stream.</summary>
    Error,

    /// <summary>No answer and no error: connection refused or reset, or a stream cut off before its end.</summary>
    Broken,

    /// <summary>Still running at the bound; the harness gave up on it.</summary>
    Timeout,
}

/// <summary>
/// One request and what came back: its parameters, the gateway it went to, its start and end, the arrival time of each
/// token (streams; a non-streamed answer's tokens all arrive at its end), how it ended, the answer (reasoning and content),
/// the tokens (<c>logprobs</c>), the finish reason and the server's completion token count.
/// </summary>
public sealed record RequestRecord : HistoryRecord
{
    public required int Id { get; init; }

    public required string Gateway { get; init; }

    public required RequestSpec Spec { get; init; }

    public required double Start { get; init; }

    public required double End { get; init; }

    public IReadOnlyList<double> TokenTimes { get; init; } = [];

    public required RequestStatus Status { get; init; }

    public string? Error { get; init; }

    public string Reasoning { get; init; } = "";

    public string Content { get; init; } = "";

    public IReadOnlyList<StreamedToken> Tokens { get; init; } = [];

    public string? FinishReason { get; init; }

    public int? CompletionTokens { get; init; }
}

/// <summary>A fault as injected: its kind, the silo (by name) or Redis, the PID signalled, when, and a note.</summary>
public sealed record FaultRecord(string Kind, string Target, double Time, int? Pid = null, string? Note = null) : HistoryRecord;

/// <summary>One silo in a status observation: its Orleans address, its node (the harness names node = silo name) and experts placed.</summary>
public sealed record SiloObservation(string Silo, string Node, int ExpertsPlaced);

/// <summary>The cluster as a gateway's <c>/cluster/status</c> showed it at a time (written when it changed).</summary>
public sealed record StatusRecord(double Time, string Source, IReadOnlyList<SiloObservation> Silos, long? Version, long? PendingVersion, bool ExpertsCovered) : HistoryRecord;
