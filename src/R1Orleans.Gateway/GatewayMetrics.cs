using System.Diagnostics.Metrics;
using System.Globalization;
using R1Orleans.Engine.Api;
using R1Orleans.Engine.Scheduling;
using R1Orleans.Gateway.Ranks;

namespace R1Orleans.Gateway;

/// <summary>
/// The gateway's metrics as <see cref="System.Diagnostics.Metrics"/> instruments on the <c>R1Orleans</c> meter: vLLM's
/// names, labelled with <c>model_name</c>. Latency histograms are recorded as requests run; token and finish totals
/// are counted as requests end and observed at scrape time (so every finished_reason series exists from the start,
/// at 0, as vLLM's do); the engine's gauges and counters are read at scrape time. Instruments are named
/// <c>r1orleans.NAME</c> (OpenTelemetry's name syntax has no ':'); <see cref="GatewayTelemetry"/> exports them to
/// Prometheus as <c>r1orleans:NAME</c> plus the unit and <c>_total</c> suffixes.
/// </summary>
public sealed class GatewayMetrics : IDisposable
{
    /// <summary>The meter of the gateway's instruments.</summary>
    public const string MeterName = "R1Orleans";

    /// <summary>The prefix of every instrument name on R1Orleans' meters; Prometheus sees it as <c>r1orleans:</c>.</summary>
    public const string InstrumentPrefix = "r1orleans.";

    /// <summary>The name of the per (layer, expert) counter, whose series outnumber OpenTelemetry's default limit.</summary>
    internal const string ExpertTokens = "expert_tokens";

    private const string ModelName = "model_name";

    private static readonly double[] s_ttftBuckets = [0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0, 160.0, 640.0, 2560.0];
    private static readonly double[] s_itlBuckets = [0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0];
    private static readonly double[] s_e2eBuckets = [0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 60.0, 120.0, 240.0, 480.0, 960.0, 1920.0, 7680.0];

    private readonly ModelHost _host;
    private readonly Meter _meter;
    private readonly Histogram<double> _ttft;
    private readonly Histogram<double> _itl;
    private readonly Histogram<double> _e2e;
    private long _promptTokens;
    private long _generationTokens;
    private long _stop;
    private long _length;
    private long _abort;
    private long _errors;
    private long _resumed;
    private long _recomputed;

    public GatewayMetrics(IMeterFactory meters, ModelHost host, RequestTable requests)
    {
        ArgumentNullException.ThrowIfNull(requests);
        ArgumentNullException.ThrowIfNull(meters);
        _host = host ?? throw new ArgumentNullException(nameof(host));
        _meter = meters.Create(MeterName);

        Gauge("model_ready", "1 when the model is loaded and serving, 0 while it loads.", e => e is null ? 0 : 1);
        Gauge("num_requests_running", "Number of requests in model execution batches.", e => e?.Core.Running ?? 0);
        Gauge("num_requests_waiting", "Number of requests waiting to be processed.", e => e?.Core.Waiting ?? 0);
        Gauge("kv_cache_usage_perc", "KV-cache usage. 1 means 100 percent usage.", KvCacheUsage);

        Total("prompt_tokens", "Number of prefill tokens processed.", _ => Interlocked.Read(ref _promptTokens));
        Total("generation_tokens", "Number of generation tokens processed.", _ => Interlocked.Read(ref _generationTokens));
        _meter.CreateObservableCounter(InstrumentPrefix + "request_success", RequestSuccess, null, "Count of successfully processed requests.");
        Total("request_errors", "Count of requests the engine ended with an error.", _ => Interlocked.Read(ref _errors));
        Total("requests_resumed", "Requests resumed on another rank after theirs was lost (failover).", _ => Interlocked.Read(ref _resumed));
        Total("recomputed_tokens", "Tokens (prompt and generated) recomputed to resume requests on another rank.", _ => Interlocked.Read(ref _recomputed));
        Total("num_preemptions", "Cumulative number of preemptions from the engine.", e => e?.Stats.Preemptions ?? 0);
        Total("spec_decode_num_draft_tokens", "Number of draft tokens (MTP speculative decoding).", e => e?.Stats.DraftTokens ?? 0);
        Total("spec_decode_num_accepted_tokens", "Number of accepted draft tokens.", e => e?.Stats.AcceptedDraftTokens ?? 0);
        Gauge("spec_decode_draft_acceptance_rate", "Accepted over drafted tokens since start.", e => e?.Stats.AcceptanceRate ?? 0);

        _meter.CreateObservableGauge(InstrumentPrefix + "gateway_requests_by_rank", () => requests.CountByRank()
                .Select(r => new Measurement<int>(r.Value, new KeyValuePair<string, object?>("rank", r.Key))), null,
            "Requests this gateway is running, by the rank (silo) that runs them.");
        _meter.CreateObservableCounter(InstrumentPrefix + ExpertTokens, ExpertTokensPerExpert, null,
            "Tokens routed to each routed expert of each MoE layer (MTP drafts included).");
        _meter.CreateObservableGauge(InstrumentPrefix + "expert_load_imbalance", ExpertLoadImbalance, null,
            "Max over mean of expert_tokens_total per MoE layer since start (1 is perfectly balanced).");

        GateBiasMetrics.Create(_meter, () => (Engine(out KeyValuePair<string, object?> model), model));

        _ttft = Seconds("time_to_first_token", "Histogram of time to first token in seconds.", s_ttftBuckets);
        _itl = Seconds("inter_token_latency", "Histogram of inter-token latency in seconds.", s_itlBuckets);
        _e2e = Seconds("e2e_request_latency", "Histogram of end to end request latency in seconds.", s_e2eBuckets);
    }

    /// <summary>One request continued on another rank, recomputing <paramref name="tokens"/> positions.</summary>
    internal void RecordResumed(int tokens)
    {
        Interlocked.Increment(ref _resumed);
        Interlocked.Add(ref _recomputed, tokens);
    }

    internal void RecordFirstToken(double seconds) => _ttft.Record(seconds, Model());

    internal void RecordInterToken(double seconds) => _itl.Record(seconds, Model());

    /// <summary>One engine request ended (each of a request's n choices is one).</summary>
    internal void RecordFinished(FinishReason reason, double e2eSeconds, Usage usage)
    {
        Interlocked.Add(ref _promptTokens, usage.PromptTokens);
        Interlocked.Add(ref _generationTokens, usage.CompletionTokens);
        switch (reason)
        {
            case FinishReason.Stop:
                Interlocked.Increment(ref _stop);
                break;
            case FinishReason.Length:
                Interlocked.Increment(ref _length);
                break;
            case FinishReason.Abort:
                Interlocked.Increment(ref _abort);
                break;
            default:
                Interlocked.Increment(ref _errors);
                break;
        }

        if (reason is FinishReason.Stop or FinishReason.Length)
        {
            _e2e.Record(e2eSeconds, Model());
        }
    }

    public void Dispose() => _meter.Dispose();

    private InferenceEngine? Engine(out KeyValuePair<string, object?> model)
    {
        _host.TryGet(out InferenceEngine? engine, out ServedModelInfo? info);
        model = new(ModelName, info?.Id ?? "");
        return engine;
    }

    /// <summary>The model_name label: the served model's id, empty while it loads.</summary>
    private KeyValuePair<string, object?> Model() => new(ModelName, _host.Info?.Id ?? "");

    private static double KvCacheUsage(InferenceEngine? engine) =>
        engine is null || engine.Cache.Allocator.Capacity <= 0 ? 0 : (double)engine.Cache.Allocator.UsedBlocks / engine.Cache.Allocator.Capacity;

    /// <summary>A gauge of the served engine (null while the model loads), labelled with its model_name.</summary>
    private void Gauge(string name, string description, Func<InferenceEngine?, double> read) =>
        _meter.CreateObservableGauge(InstrumentPrefix + name, () => new Measurement<double>(read(Engine(out KeyValuePair<string, object?> model)), model), null, description);

    /// <summary>A running total read at scrape time (Prometheus adds <c>_total</c>), labelled with model_name.</summary>
    private void Total(string name, string description, Func<InferenceEngine?, long> read) =>
        _meter.CreateObservableCounter(InstrumentPrefix + name, () => new Measurement<long>(read(Engine(out KeyValuePair<string, object?> model)), model), null, description);

    private Histogram<double> Seconds(string name, string description, double[] buckets) =>
        _meter.CreateHistogram(InstrumentPrefix + name, "s", description, null, new InstrumentAdvice<double> { HistogramBucketBoundaries = buckets });

    private Measurement<long>[] RequestSuccess()
    {
        KeyValuePair<string, object?> model = Model();
        return
        [
            new(Interlocked.Read(ref _stop), model, new("finished_reason", "stop")),
            new(Interlocked.Read(ref _length), model, new("finished_reason", "length")),
            new(Interlocked.Read(ref _abort), model, new("finished_reason", "abort")),
        ];
    }

    /// <summary>Per (layer, expert) routed-token counters: what a load balancer reads.</summary>
    private List<Measurement<long>> ExpertTokensPerExpert()
    {
        var series = new List<Measurement<long>>();
        if (Engine(out KeyValuePair<string, object?> model) is not { } engine)
        {
            return series;
        }

        int experts = engine.Config.NRoutedExperts;
        foreach (int layer in engine.MoeLayers)
        {
            var layerLabel = new KeyValuePair<string, object?>("layer", Label(layer));
            for (int e = 0; e < experts; e++)
            {
                series.Add(new Measurement<long>(engine.ExpertLoad.Tokens(layer, e), model, layerLabel, new("expert", Label(e))));
            }
        }

        return series;
    }

    /// <summary>Each MoE layer's max over mean of its experts' routed tokens.</summary>
    private List<Measurement<double>> ExpertLoadImbalance()
    {
        var series = new List<Measurement<double>>();
        if (Engine(out KeyValuePair<string, object?> model) is not { } engine)
        {
            return series;
        }

        foreach (int layer in engine.MoeLayers)
        {
            series.Add(new Measurement<double>(engine.ExpertLoad.Imbalance(layer, engine.Config.NRoutedExperts), model, new("layer", Label(layer))));
        }

        return series;
    }

    private static readonly string[] s_labels = [.. Enumerable.Range(0, 512).Select(i => i.ToString(CultureInfo.InvariantCulture))];

    private static string Label(int i) => (uint)i < (uint)s_labels.Length ? s_labels[i] : i.ToString(CultureInfo.InvariantCulture);
}
