using Microsoft.Extensions.Logging;
using Orleans.Streams;
using Orleans.Streams.Core;
using R1Orleans.Grains.Cluster;
using R1Orleans.Model;
using R1Orleans.Placement;
using R1Orleans.Placement.Balancing;
using ClusterMember = R1Orleans.Placement.ClusterMember;

namespace R1Orleans.Grains.Balancing;

/// <summary>
/// Thin over <see cref="ExpertLoadAggregator"/> and <see cref="EplbPlanner"/>: every window a silo publishes arrives
/// through the implicit stream subscription; a rebalance estimates each expert's load, plans over the directory's
/// members from its committed map, and proposes the plan (with its replica weights) to the placement directory, which
/// numbers it, has the members load it in the background and commits it (the switch happens at a step boundary on
/// every rank; the old version is served until retired). In memory: a lost activation starts from an empty estimate.
/// </summary>
[ImplicitStreamSubscription(LoadStreams.Namespace), KeepAlive]
public sealed partial class LoadBalancerGrain(ILoadBalancingSettings settings, ILogger<LoadBalancerGrain> logger)
    : Grain, ILoadBalancerGrain, IStreamSubscriptionObserver, IAsyncObserver<ExpertLoadWindowDto>
{
    private ExpertLoadAggregator? _aggregator;
    private RebalanceReport? _last;

    private ExpertLoadAggregator Aggregator => _aggregator ??= new ExpertLoadAggregator(settings.Layout);

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        if (settings.OnlineBias is { } options)
        {
            // Bias mode: one bias for the whole cluster, moved against the summed load of every silo's windows.
            _bias = new ClusterGateBias(settings.CheckpointGateBias, options);
            this.RegisterGrainTimer(PushBiasAsync, new GrainTimerCreationOptions { DueTime = options.Interval, Period = options.Interval });
        }

        return Task.CompletedTask;
    }

    public async Task<RebalanceReport> Rebalance(bool force)
    {
        IPlacementDirectoryGrain directory = GrainFactory.GetGrain<IPlacementDirectoryGrain>(IPlacementDirectoryGrain.DefaultKey);
        PlacementSnapshot snapshot = await directory.Snapshot().ConfigureAwait(true);
        var balancer = new LoadBalancer(settings.Layout, settings.RedundantExperts, settings.ExpertReplicas);
        ExpertLoadEstimate estimate = Aggregator.Estimate(DateTimeOffset.UtcNow);
        LoadBalancer.Decision decision = balancer.Decide(snapshot.Committed?.ToMap(), snapshot.Pending is not null, [.. snapshot.Members.Select(m => new ClusterMember(m.Silo, m.Node))], estimate, force, snapshot.Committed?.Weights);
        if (decision.Plan is { } plan)
        {
            ProposeReply reply = await directory.Propose(PlacementMapDto.From(plan.Map) with { Weights = plan.Weights.ToArray() }).ConfigureAwait(true);
            string what = plan.Changed ? "placement" : "placement (the same holders, new replica weights)";
            _last = decision.Report(reply.Accepted ? $"proposed {what} v{reply.Version}" : $"the directory refused the plan: {reply.Reason}", reply.Accepted, reply.Version);
            LogPlanned(logger, _last.Outcome, _last.CurrentImbalance, _last.PlannedImbalance, _last.LayersChanged);
        }
        else
        {
            _last = decision.Report(decision.Reason!, false, null);
        }

        return _last;
    }

    public Task<LoadBalancerReport> Report()
    {
        ExpertLoadAggregator a = Aggregator;
        ExpertLoadEstimate estimate = a.Estimate(DateTimeOffset.UtcNow);
        return Task.FromResult(new LoadBalancerReport(
            a.WindowsTaken, a.WindowsMissed, a.WindowsIgnored, [.. a.Silos.Select(s => s.Value)], estimate.Total, settings.RedundantExperts, _last,
            _bias?.Report(_pushedTo, _pushFailed)));
    }

    public Task OnSubscribed(IStreamSubscriptionHandleFactory handleFactory)
    {
        ArgumentNullException.ThrowIfNull(handleFactory);
        return handleFactory.Create<ExpertLoadWindowDto>().ResumeAsync(this);
    }

    public Task OnNextAsync(ExpertLoadWindowDto item, StreamSequenceToken? token = null)
    {
        ArgumentNullException.ThrowIfNull(item);
        try
        {
            ExpertLoadWindow window = item.ToWindow();
            Aggregator.Offer(window, DateTimeOffset.UtcNow);
            _bias?.Offer(window);
        }
        catch (ArgumentException e)
        {
            // A window from a silo with another layout (or a malformed one) is dropped: statistics, never correctness.
            LogDropped(logger, item.Silo, e.Message);
        }

        return Task.CompletedTask;
    }

    public Task OnCompletedAsync() => Task.CompletedTask;

    public Task OnErrorAsync(Exception ex) => Task.CompletedTask;

    [LoggerMessage(Level = LogLevel.Information, Message = "rebalance: {Outcome}; predicted imbalance {Current:0.###} -> {Planned:0.###}, {Layers} layers changed")]
    private static partial void LogPlanned(ILogger logger, string outcome, double current, double planned, int layers);

    [LoggerMessage(Level = LogLevel.Warning, Message = "load window from {Silo} dropped: {Reason}")]
    private static partial void LogDropped(ILogger logger, string silo, string reason);
}

/// <summary>What the load balancer grain needs from its silo: the model's expert layout and the redundant expert slots.</summary>
public interface ILoadBalancingSettings
{
    ExpertLayout Layout { get; }

    /// <summary>Bias mode's settings (silo <c>--online-bias</c>), or null when it is off (the default).</summary>
    ClusterGateBiasOptions? OnlineBias { get; }

    /// <summary>Every MoE layer's e_score_correction_bias as the checkpoint has it (version 0), read when first asked.</summary>
    GateBias CheckpointGateBias { get; }

    /// <summary>Redundant expert slots per MoE layer (--redundant-experts).</summary>
    int RedundantExperts { get; }

    /// <summary>Copies of every expert the cluster keeps for failover (--expert-replicas).</summary>
    int ExpertReplicas { get; }
}
