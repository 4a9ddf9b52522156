using R1Orleans.Client.Chaos;
using R1Orleans.Client.Http;

namespace R1Orleans.Client.Tests.Chaos;

/// <summary>Hand-made histories for the checker: one reference answer and requests that do or do not match it.</summary>
internal static class ChaosHistories
{
    public static readonly RequestSpec Greedy = new("What is 2 + 3?", 0, null, 16, Stream: true, Answer: "2 + 3 = 5.");

    public static readonly StreamedToken[] Tokens =
    [
        new("Add", -0.25), new(" 2", -0.125), new(" and", 0), new(" 3", -0.5), new(".", -0.0625), new("2 + 3 = 5.", -1),
    ];

    public static readonly ReferenceSet References = new([Reference(Greedy, Tokens)]);

    public static ReferenceAnswer Reference(RequestSpec spec, StreamedToken[] tokens) =>
        new(spec.Key, Reasoning(tokens), tokens[^1].Text, tokens, "stop", tokens.Length);

    /// <summary>A completed request that carried <paramref name="tokens"/> (the last one is the content, the rest reasoning), one every 50 ms.</summary>
    public static RequestRecord Completed(int id, StreamedToken[] tokens, RequestSpec? spec = null, double start = 1) => new()
    {
        Id = id,
        Gateway = "s0",
        Spec = spec ?? Greedy,
        Start = start,
        End = start + (0.05 * tokens.Length) + 0.01,
        TokenTimes = [.. tokens.Select((_, i) => start + (0.05 * (i + 1)))],
        Status = RequestStatus.Completed,
        Reasoning = Reasoning(tokens),
        Content = tokens[^1].Text,
        Tokens = tokens,
        FinishReason = "stop",
        CompletionTokens = tokens.Length,
    };

    public static RequestRecord Failed(int id, RequestStatus status, string gateway, string error, double start = 1, double end = 2) => new()
    {
        Id = id,
        Gateway = gateway,
        Spec = Greedy,
        Start = start,
        End = end,
        Status = status,
        Error = error,
    };

    private static string Reasoning(StreamedToken[] tokens) => string.Concat(tokens[..^1].Select(t => t.Text));
}
