using System.Buffers;
using System.Diagnostics;
using R1Orleans.Model;
using R1Orleans.Placement;
using R1Orleans.Placement.Balancing;
using R1Orleans.Transport.Experts;

namespace R1Orleans.Transport.Cluster;

/// <summary>
/// A rank's expert exchange across silos. Per MoE layer step: the router picks one holder for every (token, slot)
/// within the node limit, each remote holder gets ONE request with all of its rows grouped by expert, the rank's own
/// experts run in place meanwhile (no copy through the transport), and once every reply is in, the outputs are
/// combined in slot order. Activations travel as float32 and each expert runs the same kernel everywhere, so the
/// result is bitwise the single-process one for any placement, replica choice or batch. Every call has a deadline; a
/// holder that fails, is fenced or is silent becomes a suspect and its rows are re-dispatched in the same step to a live
/// replica, or, where none is left, to the holders of the next placement the control plane publishes (see
/// ClusterExpertExchange.Failover.cs); only when none comes within <see cref="RecoveryTimeout"/> does the step fail, with
/// an <see cref="ExpertStepFailedException"/> naming the holder and the layer. One step at a time (a rank's forward pass
/// is sequential).
/// </summary>
public sealed partial class ClusterExpertExchange : IExpertExchange, IExpertLoadSource
{
    private readonly ClusterMember _self;
    private readonly PlacementView _placement;
    private readonly IExpertTransport _transport;
    private readonly ExpertHolder _local;
    private readonly int _maxNodesPerToken;
    private ExpertRouter? _router;
    private PlacementMap? _routedMap;
    private int _routedSuspects = -1;
    private DispatchPlan? _plan;
    private double _replyEwmaSeconds;
    private IReplicaPreference? _preference;
    private long _steps;
    private const long NoStepVersion = -1;
    private long _stepVersion = NoStepVersion;
    private bool _stepMixed;

    /// <param name="self">This rank's silo and node.</param>
    /// <param name="placement">Where the control plane publishes the placement; taken up at each step boundary.</param>
    /// <param name="transport">Carries requests to the other silos.</param>
    /// <param name="local">This silo's holder: the rank's own experts run through it in place.</param>
    /// <param name="maxNodesPerToken">The node limit.</param>
    /// <param name="deadline">How long one step waits for a holder.</param>
    public ClusterExpertExchange(ClusterMember self, PlacementView placement, IExpertTransport transport, ExpertHolder local, int maxNodesPerToken, TimeSpan deadline)
    {
        _self = self ?? throw new ArgumentNullException(nameof(self));
        _placement = placement ?? throw new ArgumentNullException(nameof(placement));
        _transport = transport ?? throw new ArgumentNullException(nameof(transport));
        _local = local ?? throw new ArgumentNullException(nameof(local));
        _maxNodesPerToken = maxNodesPerToken;
        Deadline = deadline;
    }

    /// <summary>The longest a step waits for one holder's reply before it re-dispatches that holder's rows.</summary>
    public TimeSpan Deadline { get; set; }

    /// <summary>The shortest deadline, however fast replies have been (a loaded machine's hiccups stay below it).</summary>
    public TimeSpan DeadlineFloor { get; set; } = TimeSpan.FromMilliseconds(500);

    /// <summary>
    /// The deadline a step uses: <see cref="DeadlineMultiple"/> times the recent reply latency (an exponential average),
    /// within [<see cref="DeadlineFloor"/>, <see cref="Deadline"/>]. A holder silent past it is passed over; a false
    /// suspicion only costs a re-dispatch.
    /// </summary>
    public TimeSpan EffectiveDeadline
    {
        get
        {
            double ewma = Volatile.Read(ref _replyEwmaSeconds);
            TimeSpan derived = ewma > 0 ? TimeSpan.FromSeconds(ewma * DeadlineMultiple) : Deadline;
            TimeSpan floor = DeadlineFloor < Deadline ? DeadlineFloor : Deadline;
            return derived < floor ? floor : derived > Deadline ? Deadline : derived;
        }
    }

    /// <summary>How many recent reply latencies a holder may take before it is passed over.</summary>
    public double DeadlineMultiple { get; set; } = 50;

    /// <summary>How long a step whose experts have no live holder waits for a placement that gives them one.</summary>
    public TimeSpan RecoveryTimeout { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>Holders this rank saw fail; routed around while a replica remains.</summary>
    public SuspectHolders Suspects { get; init; } = new();

    /// <summary>Tokens this rank routed per (layer, expert), wherever they ran, and per replica chosen in windows.</summary>
    public ExpertLoadCounter Load { get; } = new();

    /// <summary>What this rank sent and received, per layer step.</summary>
    public ExchangeStatistics Statistics { get; } = new();

    /// <summary>
    /// The replica preference for a placement (the load balancer's planned weights: a new
    /// <see cref="WeightedReplicaPreference"/> per call), asked whenever the router is rebuilt for a new map or new
    /// suspects; null or a null result keeps the first replica unless another is local or saves a node. A weighted
    /// preference's <see cref="WeightedReplicaPreference.Step"/> is advanced at every step boundary.
    /// </summary>
    public Func<PlacementMap, IReplicaPreference?>? ReplicaPreference { get; set; }

    /// <summary>The placement this rank's current step runs with.</summary>
    public PlacementMap? Map => _router?.Map;

    public void BeginStep()
    {
        PlacementMap map = _placement.Current ?? throw new InvalidOperationException("no placement has been published to this rank yet");
        if (Suspects.Any)
        {
            // Lapsed suspicions are dropped here, once per step (the set's version changes, the router is rebuilt).
            _ = Suspects.Current();
        }

        Route(map);
        _stepVersion = NoStepVersion;
        _stepMixed = false;
        if (_preference is WeightedReplicaPreference weighted)
        {
            weighted.Step = ++_steps;
        }
    }

    /// <summary>
    /// Routes with <paramref name="map"/> less the current suspects. A new map is taken only at a step boundary; new
    /// suspects are left out at once, even within a step (same version: only the choice among replicas changes).
    /// </summary>
    private void Route(PlacementMap map)
    {
        int suspects = Suspects.Version;
        if (_routedMap != map || _routedSuspects != suspects)
        {
            IReadOnlyCollection<SiloId> avoid = Suspects.Current();
            _preference = ReplicaPreference?.Invoke(map);
            if (_preference is WeightedReplicaPreference weighted)
            {
                weighted.Step = _steps;
            }

            _router = new ExpertRouter(avoid.Count == 0 ? map : map.Excluding(avoid), _self, _maxNodesPerToken, _preference);
            _routedMap = map;
            _routedSuspects = Suspects.Version;
        }
    }

    public ExpertStep Dispatch(int layer, ReadOnlySpan<float> x, ExpertRouting routing)
    {
        ArgumentNullException.ThrowIfNull(routing);
        if (_routedMap is null)
        {
            BeginStep();
        }
        else
        {
            Route(_routedMap);
        }

        int n = routing.Tokens;
        int hidden = x.Length / Math.Max(1, n);
        if (x.Length != n * hidden)
        {
            throw new ArgumentException($"dispatch: {n} tokens, x holds {x.Length} values");
        }

        DispatchPlan plan = _router!.Route(layer, routing, _plan);
        if (plan.LocalDestination >= 0 && !_local.Fence.Serves(plan.Stamp) && _placement.Current is { } newer && newer.Epoch > plan.Map.Epoch)
        {
            // This silo's holder already moved past the step's version (a newer placement was committed meanwhile):
            // the step switches to the newer one before anything is sent (the same experts, the same bits).
            Route(newer);
            plan = _router!.Route(layer, routing, _plan);
        }

        CountLoad(layer, plan);
        CheckStepVersion(plan.Stamp.Version);
        _plan = plan;
        Statistics.OnViolations(plan.Violations);
        Statistics.OnLayerStep();
        var step = new Step(layer, routing, hidden, plan, new float[routing.TopkIds.Length * hidden]);

        // Remote holders first, so that they work while the local experts run.
        for (int d = 0; d < plan.DestinationCount; d++)
        {
            if (plan.IsLocal(d))
            {
                continue;
            }

            ReadOnlySpan<int> tokens = plan.RowTokens(d);
            ExpertGroup[] groups = ExpertGroup.Of(plan.RowExperts(d));
            int length = ExpertStepCodec.RequestLength(groups.Length, tokens.Length, hidden);
            byte[] buffer = ArrayPool<byte>.Shared.Rent(length);
            ExpertStepCodec.WriteRequest(buffer, plan.Stamp, layer, hidden, tokens, groups, x);
            SiloId holder = plan.Destination(d);
            Statistics.OnSent(length);
            step.Calls.Add(new Call(d, holder, buffer, length, _transport.CallAsync(holder, buffer.AsMemory(0, length), EffectiveDeadline)));
        }

        if (plan.LocalDestination >= 0)
        {
            RunLocal(step, x);
        }

        return step;
    }

    /// <summary>Counts the step under its first MoE layer's version, and once as mixed if a later layer ran on another.</summary>
    private void CheckStepVersion(long version)
    {
        if (_stepVersion == NoStepVersion)
        {
            _stepVersion = version;
            Statistics.OnStepVersion(version);
        }
        else if (version != _stepVersion && !_stepMixed)
        {
            _stepMixed = true;
            Statistics.OnMixedVersionStep();
        }
    }

    public void Combine(ExpertStep step, Span<float> y)
    {
        var s = step as Step ?? throw new ArgumentException("a step of another exchange", nameof(step));
        try
        {
            Recovery? recovery = null;
            foreach (Call call in s.Calls)
            {
                ExpertStepFailedException? failure = Await(s, call.Holder, call.Reply, out IExpertReply? reply);
                if (reply is not null)
                {
                    using (reply)
                    {
                        failure = Scatter(s, call.Holder, call.Destination, reply.Bytes.Span);
                    }
                }

                if (failure is not null)
                {
                    // The holder's rows go elsewhere in this same step; it is avoided from now on.
                    Statistics.OnFailedCall(failure.Failure, Stopwatch.GetElapsedTime(s.Started));
                    Suspects.Suspect(call.Holder);
                    (recovery ??= new Recovery(s.Hidden, failure)).Add(s, call);
                }
            }

            if (recovery is not null)
            {
                Recover(s, recovery);
            }
        }
        finally
        {
            foreach (Call call in s.Calls)
            {
                ArrayPool<byte>.Shared.Return(call.Request);
            }
        }

        SlotOrderCombine.Run(s.Routing, s.Hidden, s.ExpertOut, y);
    }

    /// <summary>The reply of one call, or the failure that stands for it (named for the holder and the layer).</summary>
    private static ExpertStepFailedException? Await(Step s, SiloId holder, Task<IExpertReply> call, out IExpertReply? reply)
    {
        reply = null;
        try
        {
            reply = call.GetAwaiter().GetResult();
            return null;
        }
        catch (ExpertStepFailedException e)
        {
            return new ExpertStepFailedException(holder, s.Layer, e.Failure, e.Reason, e);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            return new ExpertStepFailedException(holder, s.Layer, ExpertStepFailure.Unreachable, e.Message, e);
        }
    }

    /// <summary>Copies a destination's reply rows to their (token, slot) places, or returns the holder's refusal.</summary>
    private ExpertStepFailedException? Scatter(Step s, SiloId holder, int destination, ReadOnlySpan<byte> bytes) =>
        Scatter(s, holder, s.Plan.RowTokens(destination), s.Plan.RowSlots(destination), bytes);

    private ExpertStepFailedException? Scatter(Step s, SiloId holder, ReadOnlySpan<int> tokens, ReadOnlySpan<int> slots, ReadOnlySpan<byte> bytes)
    {
        ExpertReplyStatus status = ExpertStepCodec.ReadReply(bytes, tokens.Length, s.Hidden, out string? message, out ReadOnlySpan<float> rows);
        if (status != ExpertReplyStatus.Ok)
        {
            return new ExpertStepFailedException(holder, s.Layer, status == ExpertReplyStatus.Fenced ? ExpertStepFailure.Fenced : ExpertStepFailure.Failed, message ?? "");
        }

        TimeSpan latency = Stopwatch.GetElapsedTime(s.Started);
        Statistics.OnReceived(bytes.Length, latency);
        double ewma = _replyEwmaSeconds;
        Volatile.Write(ref _replyEwmaSeconds, ewma == 0 ? latency.TotalSeconds : (0.9 * ewma) + (0.1 * latency.TotalSeconds));
        int hidden = s.Hidden, k = s.Routing.K;
        for (int r = 0; r < tokens.Length; r++)
        {
            rows.Slice(r * hidden, hidden).CopyTo(s.ExpertOut.AsSpan(((tokens[r] * k) + slots[r]) * hidden, hidden));
        }

        return null;
    }

    private void RunLocal(Step s, ReadOnlySpan<float> x)
    {
        int d = s.Plan.LocalDestination;
        ReadOnlySpan<int> tokens = s.Plan.RowTokens(d);
        ReadOnlySpan<int> slots = s.Plan.RowSlots(d);
        ExpertGroup[] groups = ExpertGroup.Of(s.Plan.RowExperts(d));
        int hidden = s.Hidden, k = s.Routing.K, rows = tokens.Length;
        float[] input = ArrayPool<float>.Shared.Rent(rows * hidden);
        float[] output = ArrayPool<float>.Shared.Rent(rows * hidden);
        try
        {
            for (int r = 0; r < rows; r++)
            {
                x.Slice(tokens[r] * hidden, hidden).CopyTo(input.AsSpan(r * hidden, hidden));
            }

            _local.RunInPlace(s.Plan.Stamp, s.Layer, hidden, groups, input, output);
            for (int r = 0; r < rows; r++)
            {
                output.AsSpan(r * hidden, hidden).CopyTo(s.ExpertOut.AsSpan(((tokens[r] * k) + slots[r]) * hidden, hidden));
            }
        }
        finally
        {
            ArrayPool<float>.Shared.Return(input);
            ArrayPool<float>.Shared.Return(output);
        }
    }

    /// <summary>Counts the step's rows per (expert, replica chosen), the replica's index in the published map's holder list.</summary>
    private void CountLoad(int layer, DispatchPlan plan)
    {
        PlacementMap published = _routedMap ?? plan.Map;
        long version = plan.Stamp.Version;
        for (int d = 0; d < plan.DestinationCount; d++)
        {
            int member = plan.DestinationMember(d);
            ReadOnlySpan<int> experts = plan.RowExperts(d);
            for (int start = 0; start < experts.Length;)
            {
                int e = experts[start], end = start + 1;
                while (end < experts.Length && experts[end] == e)
                {
                    end++;
                }

                int replica = published.HolderIndexes(layer, e).IndexOf(member);
                Load.Add(layer, e, Math.Max(0, replica), end - start, version);
                start = end;
            }
        }
    }

    private sealed record Call(int Destination, SiloId Holder, byte[] Request, int Length, Task<IExpertReply> Reply);

    private sealed class Step(int layer, ExpertRouting routing, int hidden, DispatchPlan plan, float[] expertOut) : ExpertStep(layer, routing, hidden)
    {
        public DispatchPlan Plan { get; } = plan;

        public float[] ExpertOut { get; } = expertOut;

        public List<Call> Calls { get; } = [];

        public long Started { get; } = Stopwatch.GetTimestamp();
    }
}
