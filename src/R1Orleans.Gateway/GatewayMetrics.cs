using System.Globalization;
using System.Text;
using R1Orleans.Engine.Api;
using R1Orleans.Engine.Scheduling;

namespace R1Orleans.Gateway;

/// <summary>
/// The gateway's Prometheus metrics (vLLM's names, prefixed <c>r1orleans:</c>, labelled with <c>model_name</c>):
/// request latencies measured here, token and finish counters, and the engine's gauges and counters read at scrape time.
/// Written by hand in the text exposition format 0.0.4.
/// </summary>
public sealed class GatewayMetrics
{
    public const string Prefix = "r1orleans:";

    private static readonly double[] s_ttftBuckets = [0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0, 160.0, 640.0, 2560.0];
    private static readonly double[] s_itlBuckets = [0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0, 80.0];
    private static readonly double[] s_e2eBuckets = [0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 60.0, 120.0, 240.0, 480.0, 960.0, 1920.0, 7680.0];

    private readonly Histogram _ttft = new(s_ttftBuckets);
    private readonly Histogram _itl = new(s_itlBuckets);
    private readonly Histogram _e2e = new(s_e2eBuckets);
    private long _promptTokens;
    private long _generationTokens;
    private long _stop;
    private long _length;
    private long _abort;
    private long _errors;

    internal void RecordFirstToken(double seconds) => _ttft.Observe(seconds);

    internal void RecordInterToken(double seconds) => _itl.Observe(seconds);

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
            _e2e.Observe(e2eSeconds);
        }
    }

    /// <summary>The whole exposition (Content-Type <c>text/plain; version=0.0.4</c>).</summary>
    public string Render(ModelHost host)
    {
        ArgumentNullException.ThrowIfNull(host);
        host.TryGet(out InferenceEngine? engine, out ServedModelInfo? info);
        string label = $"model_name=\"{Escape(info?.Id ?? "")}\"";
        var w = new StringBuilder();

        Gauge(w, "model_ready", "1 when the model is loaded and serving, 0 while it loads.", label, engine is null ? 0 : 1);
        Gauge(w, "num_requests_running", "Number of requests in model execution batches.", label, engine?.Core.Running ?? 0);
        Gauge(w, "num_requests_waiting", "Number of requests waiting to be processed.", label, engine?.Core.Waiting ?? 0);
        double kv = 0;
        if (engine is not null && engine.Cache.Allocator.Capacity > 0)
        {
            kv = (double)engine.Cache.Allocator.UsedBlocks / engine.Cache.Allocator.Capacity;
        }

        Gauge(w, "kv_cache_usage_perc", "KV-cache usage. 1 means 100 percent usage.", label, kv);

        Counter(w, "prompt_tokens_total", "Number of prefill tokens processed.", [(label, Read(ref _promptTokens))]);
        Counter(w, "generation_tokens_total", "Number of generation tokens processed.", [(label, Read(ref _generationTokens))]);
        Counter(w, "request_success_total", "Count of successfully processed requests.",
        [
            ($"{label},finished_reason=\"stop\"", Read(ref _stop)),
            ($"{label},finished_reason=\"length\"", Read(ref _length)),
            ($"{label},finished_reason=\"abort\"", Read(ref _abort)),
        ]);
        Counter(w, "request_errors_total", "Count of requests the engine ended with an error.", [(label, Read(ref _errors))]);

        EngineStats? stats = engine?.Stats;
        Counter(w, "num_preemptions_total", "Cumulative number of preemptions from the engine.", [(label, stats?.Preemptions ?? 0)]);
        Counter(w, "spec_decode_num_draft_tokens_total", "Number of draft tokens (MTP speculative decoding).", [(label, stats?.DraftTokens ?? 0)]);
        Counter(w, "spec_decode_num_accepted_tokens_total", "Number of accepted draft tokens.", [(label, stats?.AcceptedDraftTokens ?? 0)]);
        Gauge(w, "spec_decode_draft_acceptance_rate", "Accepted over drafted tokens since start.", label, stats?.AcceptanceRate ?? 0);

        if (engine is not null)
        {
            WriteExpertLoad(w, engine, label);
        }

        _ttft.Write(w, "time_to_first_token_seconds", "Histogram of time to first token in seconds.", label);
        _itl.Write(w, "inter_token_latency_seconds", "Histogram of inter-token latency in seconds.", label);
        _e2e.Write(w, "e2e_request_latency_seconds", "Histogram of end to end request latency in seconds.", label);
        return w.ToString();
    }

    /// <summary>Per (layer, expert) routed-token counters and each MoE layer's max/mean: what a load balancer reads.</summary>
    private static void WriteExpertLoad(StringBuilder w, InferenceEngine engine, string label)
    {
        int experts = engine.Config.NRoutedExperts;
        var series = new List<(string, long)>();
        foreach (int layer in engine.MoeLayers)
        {
            for (int e = 0; e < experts; e++)
            {
                series.Add(($"{label},layer=\"{layer}\",expert=\"{e}\"", engine.ExpertLoad.Tokens(layer, e)));
            }
        }

        Counter(w, "expert_tokens_total", "Tokens routed to each routed expert of each MoE layer (MTP drafts included).", [.. series]);
        Header(w, "expert_load_imbalance", "Max over mean of expert_tokens_total per MoE layer since start (1 is perfectly balanced).", "gauge");
        foreach (int layer in engine.MoeLayers)
        {
            w.Append(Prefix).Append("expert_load_imbalance{").Append(label).Append(",layer=\"").Append(layer.ToString(CultureInfo.InvariantCulture))
                .Append("\"} ").Append(Format(engine.ExpertLoad.Imbalance(layer, experts))).Append('\n');
        }
    }

    private static long Read(ref long v) => Interlocked.Read(ref v);

    private static void Gauge(StringBuilder w, string name, string help, string labels, double value)
    {
        Header(w, name, help, "gauge");
        w.Append(Prefix).Append(name).Append('{').Append(labels).Append("} ").Append(Format(value)).Append('\n');
    }

    private static void Counter(StringBuilder w, string name, string help, (string Labels, long Value)[] series)
    {
        Header(w, name, help, "counter");
        foreach ((string labels, long value) in series)
        {
            w.Append(Prefix).Append(name).Append('{').Append(labels).Append("} ").Append(value.ToString(CultureInfo.InvariantCulture)).Append('\n');
        }
    }

    private static void Header(StringBuilder w, string name, string help, string type)
    {
        w.Append("# HELP ").Append(Prefix).Append(name).Append(' ').Append(help).Append('\n');
        w.Append("# TYPE ").Append(Prefix).Append(name).Append(' ').Append(type).Append('\n');
    }

    internal static string Format(double v) =>
        double.IsPositiveInfinity(v) ? "+Inf" : double.IsNegativeInfinity(v) ? "-Inf" : double.IsNaN(v) ? "NaN" : v.ToString("R", CultureInfo.InvariantCulture);

    internal static string Escape(string s) => s.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal);

    private sealed class Histogram(double[] bounds)
    {
        private readonly long[] _counts = new long[bounds.Length + 1];
        private readonly object _gate = new();
        private double _sum;
        private long _count;

        public void Observe(double value)
        {
            int i = 0;
            while (i < bounds.Length && value > bounds[i])
            {
                i++;
            }

            lock (_gate)
            {
                _counts[i]++;
                _sum += value;
                _count++;
            }
        }

        public void Write(StringBuilder w, string name, string help, string labels)
        {
            long[] counts;
            double sum;
            long count;
            lock (_gate)
            {
                counts = (long[])_counts.Clone();
                sum = _sum;
                count = _count;
            }

            Header(w, name, help, "histogram");
            long cumulative = 0;
            for (int i = 0; i <= bounds.Length; i++)
            {
                cumulative += counts[i];
                string le = i < bounds.Length ? Format(bounds[i]) : "+Inf";
                w.Append(Prefix).Append(name).Append("_bucket{").Append(labels).Append(",le=\"").Append(le).Append("\"} ")
                    .Append(cumulative.ToString(CultureInfo.InvariantCulture)).Append('\n');
            }

            w.Append(Prefix).Append(name).Append("_sum{").Append(labels).Append("} ").Append(Format(sum)).Append('\n');
            w.Append(Prefix).Append(name).Append("_count{").Append(labels).Append("} ").Append(count.ToString(CultureInfo.InvariantCulture)).Append('\n');
        }
    }
}
