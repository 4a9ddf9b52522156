using System.Diagnostics.Metrics;
using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using R1Orleans.Tests.Shared;

namespace R1Orleans.Gateway.Tests;

/// <summary>
/// /metrics through OpenTelemetry's Prometheus exporter: the names, buckets and values the hand-written exposition had,
/// ASP.NET Core's and the runtime's series beside them, and each host exporting only its own instruments.
/// </summary>
[Collection(GatewayCollection.Name)]
public sealed class MetricsExportTests(GatewayFixture fx)
{
    private const string Model = "model_name=\"" + GatewayServer.ModelId + "\"";

    /// <summary>The bucket bounds of vLLM's time-to-first-token histogram, as the hand-written exposition wrote them.</summary>
    private static readonly string[] s_ttftBounds =
        ["0.001", "0.005", "0.01", "0.02", "0.04", "0.06", "0.08", "0.1", "0.25", "0.5", "0.75", "1", "2.5", "5", "7.5", "10", "20", "40", "80", "160", "640", "2560", "+Inf"];

    [Fact]
    public async Task A_finished_request_is_in_the_very_next_scrape_with_vllm_names_and_bucket_bounds()
    {
        Scrape before = await Scrape.OfAsync(fx.Server.Http);
        JsonObject body = Api.CompletionBody("count this request", 5);
        body["ignore_eos"] = true;
        (HttpResponseMessage response, JsonElement json) = await Api.PostAsync(fx.Server, "/v1/completions", body);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        int promptTokens = json.GetProperty("usage").GetProperty("prompt_tokens").GetInt32();
        Scrape after = await Scrape.OfAsync(fx.Server.Http);

        // A histogram's series appear with its first observation: before any request, none (counted as 0).
        double Delta(string name, params string[] labels) =>
            after.Value(name, [Model, .. labels]) - before.Series(name, [Model, .. labels]).Sum(s => s.Value);
        Assert.Equal(1, Delta("r1orleans:request_success_total", "finished_reason=\"length\""));
        Assert.Equal(0, Delta("r1orleans:request_success_total", "finished_reason=\"stop\""));
        Assert.Equal(5, Delta("r1orleans:generation_tokens_total"));
        Assert.Equal(promptTokens, Delta("r1orleans:prompt_tokens_total"));
        Assert.Equal(1, Delta("r1orleans:time_to_first_token_seconds_count"));
        Assert.Equal(1, Delta("r1orleans:e2e_request_latency_seconds_count"));
        Assert.True(Delta("r1orleans:e2e_request_latency_seconds_sum") > 0);

        var buckets = after.Series("r1orleans:time_to_first_token_seconds_bucket", Model).ToList();
        Assert.Equal(s_ttftBounds, buckets.Select(b => Label(b.Labels, "le")));
        Assert.Equal(buckets.Select(b => b.Value).Order(), buckets.Select(b => b.Value));
        Assert.Equal(after.Value("r1orleans:time_to_first_token_seconds_count", Model), buckets[^1].Value);
        Assert.Contains("# TYPE r1orleans:time_to_first_token_seconds histogram\n", after.Text, StringComparison.Ordinal);
        Assert.Contains("# HELP r1orleans:request_success_total Count of successfully processed requests.\n", after.Text, StringComparison.Ordinal);
        Assert.Contains("# TYPE r1orleans:request_success_total counter\n", after.Text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_scrape_carries_aspnetcore_and_runtime_series_and_only_its_own_hosts_r1orleans_series()
    {
        // A second gateway in the same process, still loading: its scrape must not show the fixture's model, and the
        // fixture's must not show its empty model name.
        await using GatewayServer loading = await GatewayServer.StartAsync(null);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, (await loading.Http.GetAsync("/health")).StatusCode);
        Scrape other = await Scrape.OfAsync(loading.Http);
        Scrape own = await Scrape.OfAsync(fx.Server.Http);

        Assert.Equal(0, other.Value("r1orleans:model_ready", "model_name=\"\""));
        Assert.Equal([0, 0, 0], other.Series("r1orleans:request_success_total").Select(s => s.Value));
        Assert.DoesNotContain(other.Samples, s => s.Labels.Contains(Model, StringComparison.Ordinal));
        Assert.Equal(1, own.Value("r1orleans:model_ready", Model));
        Assert.DoesNotContain(own.Samples, s => s.Labels.Contains("model_name=\"\"", StringComparison.Ordinal));

        // ASP.NET Core's request histogram saw the /health call; the runtime's meter is there too.
        Assert.Contains(other.Samples, s => s.Name == "http_server_request_duration_seconds_count" && s.Labels.Contains("http_route=\"/health\"", StringComparison.Ordinal));
        Assert.Contains(own.Samples, s => s.Name == "dotnet_gc_collections_total");
        Assert.True(own.Value("dotnet_process_cpu_count") >= 1);
    }

    [Fact]
    public async Task Expert_token_series_of_a_deepseek_v3_sized_model_are_all_exported()
    {
        // 59 MoE layers (MTP included) × 256 experts: far past OpenTelemetry's default of 2,000 series per metric.
        await using GatewayServer server = await GatewayServer.StartAsync(null);
        using Meter meter = server.Services.GetRequiredService<IMeterFactory>().Create(GatewayMetrics.MeterName);
        meter.CreateObservableCounter(GatewayMetrics.InstrumentPrefix + "expert_tokens", () =>
            from layer in Enumerable.Range(3, 59)
            from expert in Enumerable.Range(0, 256)
            select new Measurement<long>(layer + expert, new("layer", layer), new("expert", expert)));

        Scrape scrape = await Scrape.OfAsync(server.Http);
        var series = scrape.Series("r1orleans:expert_tokens_total").ToList();
        Assert.Equal(59 * 256, series.Count);
        Assert.Equal(61 + 255, scrape.Value("r1orleans:expert_tokens_total", "layer=\"61\"", "expert=\"255\""));
        Assert.DoesNotContain(scrape.Samples, s => s.Labels.Contains("otel_metric_overflow", StringComparison.Ordinal));
    }

    private static string Label(string labels, string key) =>
        labels.Split(',').Single(l => l.StartsWith(key + "=", StringComparison.Ordinal))[(key.Length + 2)..^1];
}
