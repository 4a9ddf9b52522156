using System.Diagnostics.Metrics;
using Microsoft.Extensions.Hosting;
using R1Orleans.Engine.Api;
using R1Orleans.Transport.Cluster;

namespace R1Orleans.Cluster;

/// <summary>
/// One silo's cluster metrics on the <c>R1Orleans.Cluster</c> meter, labelled with its silo and node: silos up (members
/// of the committed placement), the placement's version and epoch, the experts and weight bytes this silo holds, and its
/// rank's exchange (MoE layer steps, dispatch bytes and messages sent and received, node-limit violations, the latency
/// of every reply, requests running) and its failovers (re-dispatched steps and rows, suspicions, recovery times). Values that <see cref="ClusterNode"/> already keeps are read at scrape time; the
/// reply latency histogram is recorded from <see cref="ExchangeStatistics.ReplyLatency"/> once <see cref="ObserveRank"/>
/// has been told the rank is loaded. Instruments are named <c>r1orleans.cluster_NAME</c>: the gateway's exporter shows
/// them as <c>r1orleans:cluster_NAME</c> with Prometheus' unit and <c>_total</c> suffixes. A hosted service only so that
/// its instruments exist from the silo's start.
/// </summary>
public sealed class ClusterMetrics : IHostedService, IDisposable
{
    public const string MeterName = "R1Orleans.Cluster";

    private const string Prefix = "r1orleans.cluster_";

    /// <summary>Reply latency bounds in seconds: tens of microseconds (shared memory) to the step deadline's order.</summary>
    private static readonly double[] s_latencyBuckets =
        [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0];

    private static readonly KeyValuePair<string, object?> s_sent = new("direction", "sent");
    private static readonly KeyValuePair<string, object?> s_received = new("direction", "received");

    private readonly ClusterNode _node;
    private readonly Meter _meter;
    private readonly Histogram<double> _latency;
    private readonly Histogram<double> _recovery;
    private readonly Histogram<double> _detection;
    private readonly Histogram<double> _membershipLag;
    private readonly KeyValuePair<string, object?> _silo;
    private readonly KeyValuePair<string, object?> _nodeName;
    private readonly Lock _gate = new();
    private ExchangeStatistics? _observed;
    private volatile InferenceEngine? _engine;

    public ClusterMetrics(IMeterFactory meters, ClusterNode node)
    {
        ArgumentNullException.ThrowIfNull(meters);
        _node = node ?? throw new ArgumentNullException(nameof(node));
        _silo = new("silo", node.Self.Silo.Value);
        _nodeName = new("node", node.Self.Node.Value);
        _meter = meters.Create(MeterName);

        Gauge("silos_up", null, "Silos in the committed placement.", () => _node.View.Current?.MemberCount ?? 0);
        Gauge("placement_version", null, "Version of the committed placement this silo publishes to its rank (0 before the first).", () => _node.View.Current?.Version ?? 0);
        Gauge("placement_epoch", null, "Fencing epoch of the committed placement (0 before the first).", () => _node.View.Current?.Epoch ?? 0);
        Gauge("experts_held", null, "Routed experts (layer, expert) whose weights this silo holds.", () => _node.Experts.Count);
        Gauge("experts_held_bytes", "By", "Bytes of routed-expert weights this silo holds.", () => _node.Experts.WeightBytes);
        Gauge("rank_requests_running", null, "Requests running on this silo's rank (its engine's batch).", () => _engine?.Core.Running ?? 0);

        _meter.CreateObservableCounter(Prefix + "moe_layer_steps", () => Exchange(s => s.LayerSteps), null,
            "MoE layer steps this silo's rank dispatched (one per MoE layer per forward pass).");
        _meter.CreateObservableCounter(Prefix + "dispatch_bytes", () => Directions(s => s.SentBytes, s => s.ReceivedBytes), "By",
            "Bytes this silo's rank sent to other silos' experts (requests) and received back (replies).");
        _meter.CreateObservableCounter(Prefix + "dispatch_messages", () => Directions(s => s.SentMessages, s => s.ReceivedMessages), null,
            "Messages this silo's rank sent to other silos' experts (one per remote holder per MoE layer step) and replies received.");
        _meter.CreateObservableCounter(Prefix + "node_limit_violations", () => Exchange(s => s.NodeLimitViolations), null,
            "Tokens whose experts spanned more nodes than max-nodes-per-token (dispatched anyway, as the gate chose).");
        _meter.CreateObservableCounter(Prefix + "failovers", () => Exchange(s => s.Failovers), null,
            "Steps of this silo's rank that lost a holder and were completed by re-dispatching its rows (to a replica or the next placement).");
        _meter.CreateObservableCounter(Prefix + "mixed_version_steps", () => Exchange(s => s.MixedVersionSteps), null,
            "Forward steps of this silo's rank whose MoE layers ran on two placement versions (a step that outlived its version's retirement here); 0 in a healthy hot swap.");
        _meter.CreateObservableCounter(Prefix + "redispatched_rows", () => Exchange(s => s.RedispatchedRows), null,
            "Rows (token, expert) this silo's rank sent again after their holder failed.");
        _meter.CreateObservableCounter<long>(Prefix + "suspicions", () => _node.RankExchangeInstance is { } x ? [new Measurement<long>(x.Suspects.Suspicions, _silo, _nodeName)] : [], null,
            "Times this silo's rank marked a holder suspect (unreachable, silent past the step deadline, fenced or failing).");
        _recovery = _meter.CreateHistogram(Prefix + "recovery_time", "s",
            "Time a step spent recovering from a lost holder (failure to the last re-dispatched reply), in seconds.", null,
            new InstrumentAdvice<double> { HistogramBucketBoundaries = s_latencyBuckets });
        _detection = _meter.CreateHistogram(Prefix + "failure_detection_time", "s",
            "Time from dispatching a MoE layer step to this rank seeing its holder fail, in seconds, by cause: unreachable (a connection error), deadline (silence past the step deadline: paused or slowed), fenced, failed.", null,
            new InstrumentAdvice<double> { HistogramBucketBoundaries = s_latencyBuckets });
        _membershipLag = _meter.CreateHistogram(Prefix + "membership_detection_lag", "s",
            "Time from this rank's first failed call to a silo until Orleans' membership declared that silo dead, in seconds: how far the data path is ahead of membership.", null,
            new InstrumentAdvice<double> { HistogramBucketBoundaries = s_latencyBuckets });
        _node.SiloDeclaredDead += OnDeclaredDead;
        _latency = _meter.CreateHistogram(Prefix + "dispatch_latency", "s",
            "Time from dispatching a MoE layer step to a remote holder to its reply's arrival, in seconds.", null,
            new InstrumentAdvice<double> { HistogramBucketBoundaries = s_latencyBuckets });
    }

    /// <summary>
    /// Follows this silo's rank: its engine (requests running) and its exchange's reply latencies. The silo's model
    /// loader calls it once the engine is loaded with <see cref="ClusterNode.RankExchange"/>; calling it again follows
    /// the newest exchange.
    /// </summary>
    public void ObserveRank(InferenceEngine? engine)
    {
        _engine = engine;
        lock (_gate)
        {
            ExchangeStatistics? current = _node.RankExchangeInstance?.Statistics;
            if (ReferenceEquals(current, _observed))
            {
                return;
            }

            if (_observed is not null)
            {
                _observed.ReplyLatency -= OnReply;
                _observed.Recovered -= OnRecovered;
                _observed.FailureDetected -= OnFailure;
            }

            _observed = current;
            if (current is not null)
            {
                current.ReplyLatency += OnReply;
                current.Recovered += OnRecovered;
                current.FailureDetected += OnFailure;
            }
        }
    }

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public void Dispose()
    {
        lock (_gate)
        {
            if (_observed is not null)
            {
                _observed.ReplyLatency -= OnReply;
                _observed.Recovered -= OnRecovered;
                _observed.FailureDetected -= OnFailure;
                _observed = null;
            }
        }

        _node.SiloDeclaredDead -= OnDeclaredDead;
        _meter.Dispose();
    }

    private void OnReply(TimeSpan latency) => _latency.Record(latency.TotalSeconds, _silo, _nodeName);

    private void OnRecovered(TimeSpan took) => _recovery.Record(took.TotalSeconds, _silo, _nodeName);

    private void OnFailure(ExpertStepFailure cause, TimeSpan took) =>
        _detection.Record(took.TotalSeconds, _silo, _nodeName, new KeyValuePair<string, object?>("cause", Cause(cause)));

    private void OnDeclaredDead(string silo, TimeSpan? afterSuspicion)
    {
        if (afterSuspicion is TimeSpan lag)
        {
            _membershipLag.Record(lag.TotalSeconds, _silo, _nodeName);
        }
    }

    private static string Cause(ExpertStepFailure cause) => cause switch
    {
        ExpertStepFailure.Unreachable => "unreachable",
        ExpertStepFailure.DeadlineExceeded => "deadline",
        ExpertStepFailure.Fenced => "fenced",
        _ => "failed",
    };

    private void Gauge(string name, string? unit, string description, Func<long> read) =>
        _meter.CreateObservableGauge(Prefix + name, () => new Measurement<long>(read(), _silo, _nodeName), unit, description);

    /// <summary>A figure of the rank's exchange; none before the rank's model is loaded.</summary>
    private Measurement<long>[] Exchange(Func<ExchangeStatistics, long> read) =>
        _node.RankExchangeInstance?.Statistics is { } s ? [new(read(s), _silo, _nodeName)] : [];

    private Measurement<long>[] Directions(Func<ExchangeStatistics, long> sent, Func<ExchangeStatistics, long> received) =>
        _node.RankExchangeInstance?.Statistics is { } s ? [new(sent(s), _silo, _nodeName, s_sent), new(received(s), _silo, _nodeName, s_received)] : [];
}
