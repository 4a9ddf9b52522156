using R1Orleans.Client.Chaos;
using R1Orleans.Client.Http;
using static R1Orleans.Client.Tests.Chaos.ChaosHistories;

namespace R1Orleans.Client.Tests.Chaos;

public sealed class HistoryCheckerTests
{
    private static readonly TimeSpan s_bound = TimeSpan.FromSeconds(60);

    private static CheckResult Check(params HistoryRecord[] history) => HistoryChecker.Check(history, References, s_bound);

    private static Violation Single(CheckResult result, string kind)
    {
        Violation v = Assert.Single(result.Violations);
        Assert.Equal(kind, v.Kind);
        return v;
    }

    [Fact]
    public void An_answer_equal_to_the_reference_is_identical_and_passes()
    {
        CheckResult result = Check(Completed(0, Tokens), Completed(1, Tokens, Greedy with { Stream = false }));
        Assert.True(result.Passed, string.Join("\n", result.Violations));
        Assert.Equal((2, 2, 2, 0), (result.Requests, result.Completed, result.Identical, result.Failed));
        Assert.Equal((2, 2), (result.GreedyWithAnswer, result.GreedyCorrect));
    }

    [Fact]
    public void A_repeated_token_is_reported_with_its_position()
    {
        StreamedToken[] repeated = [.. Tokens[..3], Tokens[2], .. Tokens[3..]];
        Violation v = Single(Check(Completed(7, repeated)), ViolationKind.TokenRepeated);
        Assert.Equal(7, v.RequestId);
        Assert.Contains("token 3", v.Message, StringComparison.Ordinal);
        Assert.Contains("\" and\"", v.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_repeated_run_of_tokens_is_reported_as_one_repetition()
    {
        StreamedToken[] repeated = [.. Tokens[..4], .. Tokens[2..4], .. Tokens[4..]];
        Violation v = Single(Check(Completed(1, repeated)), ViolationKind.TokenRepeated);
        Assert.Contains("token 4 and the 1 after it", v.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_missing_token_is_reported_with_its_position()
    {
        StreamedToken[] missing = [.. Tokens[..2], .. Tokens[3..]];
        Violation v = Single(Check(Completed(3, missing)), ViolationKind.TokenMissing);
        Assert.Contains("token 2", v.Message, StringComparison.Ordinal);
        Assert.Contains("5 tokens instead of 6", v.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_answer_that_stops_early_is_reported_as_missing_its_end()
    {
        Violation v = Single(Check(Completed(3, Tokens[..4])), ViolationKind.TokenMissing);
        Assert.Contains("token 4 and the 1 after it", v.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_output_that_differs_is_reported_where_it_starts_to_differ()
    {
        StreamedToken[] other = [.. Tokens[..3], new(" 4", -0.5), .. Tokens[4..]];
        Violation v = Single(Check(Completed(2, other)), ViolationKind.Differs);
        Assert.Contains("from token 3", v.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_token_with_another_logprob_differs()
    {
        StreamedToken[] other = [.. Tokens[..1], Tokens[1] with { Logprob = -0.1250001 }, .. Tokens[2..]];
        Single(Check(Completed(2, other)), ViolationKind.Differs);
    }

    [Fact]
    public void Streamed_text_that_is_not_the_final_text_is_reported_though_the_tokens_match()
    {
        RequestRecord r = Completed(4, Tokens) with { Content = "2 + 3 = 5.2 + 3 = 5." };
        Violation v = Single(Check(r), ViolationKind.Differs);
        Assert.Contains("streamed content", v.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_token_count_other_than_the_usage_is_reported()
    {
        Violation v = Single(Check(Completed(5, Tokens) with { CompletionTokens = 7 }), ViolationKind.UsageMismatch);
        Assert.Contains("usage says 7", v.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_request_past_the_bound_is_reported_even_when_it_completed()
    {
        Violation v = Single(Check(Completed(6, Tokens) with { End = 65 }), ViolationKind.PastBound);
        Assert.Contains("bound of 60 s", v.Message, StringComparison.Ordinal);
        Single(Check(Failed(8, RequestStatus.Timeout, "s0", "still running", 0, 60)), ViolationKind.PastBound);
    }

    [Fact]
    public void An_explicit_error_where_a_survivor_could_serve_is_reported()
    {
        // A worker died; the request's own gateway (s0) was alive, so a survivor could have served it.
        CheckResult result = Check(new FaultRecord("kill", "s1", 1.5), Failed(9, RequestStatus.Error, "s0", "HTTP 500: holder s1 failed layer 3"));
        Violation v = Single(result, ViolationKind.ErrorWhereSurvivorCouldServe);
        Assert.Contains("holder s1 failed layer 3", v.Message, StringComparison.Ordinal);
        Assert.Equal(1, result.Failed);
    }

    [Fact]
    public void A_failure_without_an_error_is_reported_as_silent()
    {
        Single(Check(Failed(10, RequestStatus.Broken, "s0", "the stream ended without [DONE]")), ViolationKind.SilentFailure);
    }

    [Fact]
    public void A_request_lost_with_its_killed_gateway_is_counted_not_reported()
    {
        CheckResult result = Check(new FaultRecord("kill", "s0", 1.5), Failed(11, RequestStatus.Broken, "s0", "connection reset"));
        Assert.True(result.Passed, string.Join("\n", result.Violations));
        Assert.Equal((1, 1), (result.Failed, result.LostWithGateway));
    }

    [Fact]
    public void A_completed_request_without_a_reference_is_reported()
    {
        Single(Check(Completed(12, Tokens, Greedy with { Seed = 5, Temperature = 0.8 })), ViolationKind.NoReference);
    }

    [Fact]
    public void A_history_written_as_json_lines_reads_back_to_the_same_verdict()
    {
        string path = Path.Combine(Path.GetTempPath(), $"r1-chaos-test-{Guid.NewGuid():N}.jsonl");
        try
        {
            StreamedToken[] missing = [.. Tokens[..2], .. Tokens[3..]];
            HistoryRecord[] written =
            [
                new RunRecord(DateTimeOffset.UnixEpoch, "test", [new RunProcess("s0", 10, "http://127.0.0.1:1/"), new RunProcess("s1", 11, null)], 60, "r1 chaos"),
                new FaultRecord("kill", "s1", 1.5, 42),
                Completed(0, Tokens),
                Completed(1, missing),
                new StatusRecord(1.7, "s0", [new SiloObservation("127.0.0.1:1@1", "s0", 64)], 2, null, true),
            ];
            using (var writer = new HistoryWriter(path))
            {
                foreach (HistoryRecord r in written)
                {
                    writer.Write(r);
                }
            }

            List<HistoryRecord> read = HistoryJson.Read(path);
            Assert.Equal(written.Select(r => r.GetType()), read.Select(r => r.GetType()));
            Assert.Equal(Tokens, ((RequestRecord)read[2]).Tokens);
            Assert.Equal(((RequestRecord)written[3]).TokenTimes, ((RequestRecord)read[3]).TokenTimes);
            Assert.Equal(Check(written).Violations, Check([.. read]).Violations);
            Assert.Equal(ViolationKind.TokenMissing, Assert.Single(Check([.. read]).Violations).Kind);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void A_joined_silo_the_gateway_never_lists_is_reported_once_watched_long_enough()
    {
        StatusRecord Status(double time, params string[] nodes) => new(time, "s0", [.. nodes.Select(n => new SiloObservation("x", n, 16))], 1, null, true);
        var join = new FaultRecord("join", "s3", 3.0, 99);

        Violation v = Single(Check(Status(0, "s0", "s1"), join, Status(14, "s0", "s1")), ViolationKind.JoinNotSeen);
        Assert.Contains("s3 started at 3.0 s", v.Message, StringComparison.Ordinal);
        Assert.True(Check(Status(0, "s0", "s1"), join, Status(8, "s0", "s1", "s3"), Status(14, "s0", "s1", "s3")).Passed);

        // Watched for less than the grace after the join: no verdict.
        Assert.True(Check(Status(0, "s0", "s1"), join, Status(9, "s0", "s1")).Passed);
    }

    [Fact]
    public void Token_gaps_and_detection_are_measured_around_each_fault()
    {
        RequestRecord stalled = Completed(0, Tokens) with { TokenTimes = [1.0, 1.1, 4.9, 6.2, 6.3, 6.4] };
        HistoryRecord[] history =
        [
            new StatusRecord(0.5, "s0", [new("a", "s0", 32), new("b", "s1", 32)], 1, null, true),
            new FaultRecord("kill", "s1", 5.0),
            stalled,
            new StatusRecord(5.4, "s0", [new("a", "s0", 32)], 1, 2, false),
            new StatusRecord(5.9, "s0", [new("a", "s0", 64)], 2, null, true),
        ];
        FaultImpact impact = Assert.Single(FaultImpact.Of(history, TimeSpan.FromSeconds(2)));
        Assert.Equal(3, impact.Gaps);
        Assert.Equal(1.3, impact.GapMax!.Value, 9);
        Assert.Equal(0.4, impact.Detected!.Value, 9);
        Assert.Equal(0.9, impact.Recovered!.Value, 9);
    }
}
