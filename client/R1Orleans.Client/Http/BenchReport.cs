using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace R1Orleans.Client.Http;

/// <summary>The aggregate of a load test: counts, throughput, latency distributions (milliseconds) and failure reasons.</summary>
public sealed record BenchReport
{
    public required BenchOptions Options { get; init; }

    public int? Concurrency { get; init; }

    public int Requests { get; init; }

    public int Completed { get; init; }

    public int Failed { get; init; }

    /// <summary>Wall time of the measured phase, first send to last finish.</summary>
    public double DurationSeconds { get; init; }

    public long PromptTokens { get; init; }

    public long OutputTokens { get; init; }

    /// <summary>Whether every completed request reported usage (else token counts are counted chunks / synthesized words).</summary>
    public bool UsageReported { get; init; }

    public double RequestThroughput => DurationSeconds > 0 ? Completed / DurationSeconds : 0;

    public double OutputTokenThroughput => DurationSeconds > 0 ? OutputTokens / DurationSeconds : 0;

    public double TotalTokenThroughput => DurationSeconds > 0 ? (PromptTokens + OutputTokens) / DurationSeconds : 0;

    public Distribution? TtftMs { get; init; }

    public Distribution? ItlMs { get; init; }

    public Distribution? TpotMs { get; init; }

    public Distribution? E2eMs { get; init; }

    /// <summary>Failure reasons with their counts, most frequent first.</summary>
    public IReadOnlyList<KeyValuePair<string, int>> Failures { get; init; } = [];

    public IReadOnlyList<RequestResult> Results { get; init; } = [];

    public static BenchReport Create(BenchOptions options, int? concurrency, IReadOnlyList<RequestResult> results, double durationSeconds)
    {
        var ok = results.Where(r => r.Success).ToList();
        return new BenchReport
        {
            Options = options,
            Concurrency = concurrency,
            Requests = results.Count,
            Completed = ok.Count,
            Failed = results.Count - ok.Count,
            DurationSeconds = durationSeconds,
            PromptTokens = ok.Sum(r => (long)r.PromptTokens),
            OutputTokens = ok.Sum(r => (long)r.OutputTokens),
            UsageReported = ok.Count > 0 && ok.All(r => r.UsageReported),
            TtftMs = Distribution.From(ok.Where(r => r.TtftSeconds is not null).Select(r => r.TtftSeconds!.Value))?.Scale(1e3),
            ItlMs = Distribution.From(ok.SelectMany(r => r.ItlSeconds))?.Scale(1e3),
            TpotMs = Distribution.From(ok.Where(r => r.TpotSeconds is not null).Select(r => r.TpotSeconds!.Value))?.Scale(1e3),
            E2eMs = Distribution.From(ok.Select(r => r.E2eSeconds))?.Scale(1e3),
            Failures = results.Where(r => !r.Success)
                .GroupBy(r => r.Error ?? "unknown", StringComparer.Ordinal)
                .Select(g => new KeyValuePair<string, int>(g.Key, g.Count()))
                .OrderByDescending(kv => kv.Value).ThenBy(kv => kv.Key, StringComparer.Ordinal)
                .ToList(),
            Results = results,
        };
    }

    /// <summary>Writes the report as aligned text tables.</summary>
    public void WriteTable(TextWriter w)
    {
        string mode = Options.RequestRate is double rate
            ? $"Poisson {F(rate, "0.###")} req/s" + (Concurrency is int c ? $", at most {c} in flight" : "")
            : $"concurrency {Concurrency ?? 1}";
        w.WriteLine($"{Options.Model} via /v1/{Options.Path}: {mode}; {Requests} requests ({Options.Warmup} warmup excluded), ~{Options.PromptTokens} prompt tokens, {Options.OutputTokens} output tokens{(Options.IgnoreEos ? " (ignore_eos)" : "")}");
        TextTable.Write(
            w,
            ["requests", "completed", "failed", "duration s", "req/s", "output tok/s", "total tok/s", "prompt tok", "output tok"],
            [[
                I(Requests), I(Completed), I(Failed), F(DurationSeconds, "0.00"), F(RequestThroughput, "0.00"), F(OutputTokenThroughput, "0.0"),
                F(TotalTokenThroughput, "0.0"), I(PromptTokens), I(OutputTokens) + (UsageReported || Completed == 0 ? "" : " (counted)"),
            ]]);
        w.WriteLine();
        var rows = new List<string[]>();
        foreach ((string name, Distribution? d) in new[] { ("TTFT", TtftMs), ("ITL", ItlMs), ("TPOT", TpotMs), ("E2E", E2eMs) })
        {
            rows.Add(d is null
                ? [name + " ms", "-", "-", "-", "-", "-", "-", "0"]
                : [name + " ms", F(d.Mean, "0.00"), F(d.P50, "0.00"), F(d.P90, "0.00"), F(d.P99, "0.00"), F(d.Min, "0.00"), F(d.Max, "0.00"), I(d.Count)]);
        }

        TextTable.Write(w, ["latency", "mean", "p50", "p90", "p99", "min", "max", "samples"], rows);
        if (Failures.Count > 0)
        {
            w.WriteLine();
            TextTable.Write(w, ["failures", "reason"], Failures.Select(kv => new[] { I(kv.Value), kv.Key.ReplaceLineEndings(" ") }).ToList());
        }
    }

    /// <summary>The report as JSON (snake_case keys, latencies in milliseconds; per-request results when asked).</summary>
    public JsonObject ToJson(bool includeRequests = false)
    {
        var json = new JsonObject
        {
            ["model"] = Options.Model,
            ["endpoint"] = Options.Path,
            ["concurrency"] = Concurrency,
            ["request_rate"] = Options.RequestRate,
            ["num_requests"] = Requests,
            ["warmup"] = Options.Warmup,
            ["prompt_tokens_requested"] = Options.PromptTokens,
            ["output_tokens_requested"] = Options.OutputTokens,
            ["ignore_eos"] = Options.IgnoreEos,
            ["seed"] = Options.Seed,
            ["completed"] = Completed,
            ["failed"] = Failed,
            ["duration_s"] = DurationSeconds,
            ["request_throughput"] = RequestThroughput,
            ["output_token_throughput"] = OutputTokenThroughput,
            ["total_token_throughput"] = TotalTokenThroughput,
            ["total_prompt_tokens"] = PromptTokens,
            ["total_output_tokens"] = OutputTokens,
            ["usage_reported"] = UsageReported,
            ["ttft_ms"] = Json(TtftMs),
            ["itl_ms"] = Json(ItlMs),
            ["tpot_ms"] = Json(TpotMs),
            ["e2e_ms"] = Json(E2eMs),
            ["failures"] = new JsonArray(Failures.Select(kv => (JsonNode)new JsonObject { ["reason"] = kv.Key, ["count"] = kv.Value }).ToArray()),
        };
        if (includeRequests)
        {
            json["requests"] = new JsonArray(Results.Select(r => (JsonNode)new JsonObject
            {
                ["index"] = r.Index,
                ["success"] = r.Success,
                ["error"] = r.Error,
                ["start_s"] = r.StartSeconds,
                ["ttft_ms"] = r.TtftSeconds * 1e3,
                ["e2e_ms"] = r.E2eSeconds * 1e3,
                ["prompt_tokens"] = r.PromptTokens,
                ["output_tokens"] = r.OutputTokens,
                ["itl_ms"] = new JsonArray(r.ItlSeconds.Select(x => (JsonNode?)JsonValue.Create(x * 1e3)).ToArray()),
            }).ToArray());
        }

        return json;
    }

    public string ToJsonString(bool includeRequests = false) => ToJson(includeRequests).ToJsonString(new JsonSerializerOptions { WriteIndented = true });

    private static JsonObject? Json(Distribution? d) => d is null ? null : new JsonObject
    {
        ["count"] = d.Count,
        ["mean"] = d.Mean,
        ["std"] = d.StdDev,
        ["min"] = d.Min,
        ["p50"] = d.P50,
        ["p90"] = d.P90,
        ["p99"] = d.P99,
        ["max"] = d.Max,
    };

    private static string F(double v, string format) => v.ToString(format, CultureInfo.InvariantCulture);

    private static string I(long v) => v.ToString(CultureInfo.InvariantCulture);
}
