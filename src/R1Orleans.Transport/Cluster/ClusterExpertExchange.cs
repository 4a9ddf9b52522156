using System.Buffers;
using System.Diagnostics;
using R1Orleans.Model;
using R1Orleans.Placement;
using R1Orleans.Transport.Experts;

namespace R1Orleans.Transport.Cluster;

/// <summary>
/// A rank's expert exchange across silos. Per MoE layer step: the router picks one holder for every (token, slot)
/// within the node limit, each remote holder gets ONE request with all of its rows grouped by expert, the rank's own
/// experts run in place meanwhile (no copy through the transport), and once every reply is in, the outputs are
/// combined in slot order. Activations travel as float32 and each expert runs the same kernel everywhere, so the
/// result is bitwise the single-process one for any placement, replica choice or batch. Every call has a deadline; a
/// holder that fails, is fenced or is silent fails the step with an <see cref="ExpertStepFailedException"/> naming it
/// and the layer. One step at a time (a rank's forward pass is sequential).
/// </summary>
public sealed class ClusterExpertExchange : IExpertExchange, IExpertLoadSource
{
    private readonly ClusterMember _self;
    private readonly PlacementView _placement;
    private readonly IExpertTransport _transport;
    private readonly ExpertHolder _local;
    private readonly int _maxNodesPerToken;
    private ExpertRouter? _router;
    private DispatchPlan? _plan;

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

    public TimeSpan Deadline { get; set; }

    /// <summary>Tokens this rank routed per (layer, expert), wherever they ran.</summary>
    public ExpertLoadCounter Load { get; } = new();

    /// <summary>What this rank sent and received, per layer step.</summary>
    public ExchangeStatistics Statistics { get; } = new();

    /// <summary>The placement this rank's current step runs with.</summary>
    public PlacementMap? Map => _router?.Map;

    public void BeginStep()
    {
        PlacementMap map = _placement.Current ?? throw new InvalidOperationException("no placement has been published to this rank yet");
        if (_router?.Map != map)
        {
            _router = new ExpertRouter(map, _self, _maxNodesPerToken);
        }
    }

    public ExpertStep Dispatch(int layer, ReadOnlySpan<float> x, ExpertRouting routing)
    {
        ArgumentNullException.ThrowIfNull(routing);
        if (_router is null)
        {
            BeginStep();
        }

        int n = routing.Tokens;
        int hidden = x.Length / Math.Max(1, n);
        if (x.Length != n * hidden)
        {
            throw new ArgumentException($"dispatch: {n} tokens, x holds {x.Length} values");
        }

        DispatchPlan plan = _router!.Route(layer, routing, _plan);
        CountLoad(layer, routing, plan.Map.Layout.Experts);
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
            step.Calls.Add(new Call(d, holder, buffer, _transport.CallAsync(holder, buffer.AsMemory(0, length), Deadline)));
        }

        if (plan.LocalDestination >= 0)
        {
            RunLocal(step, x);
        }

        return step;
    }

    public void Combine(ExpertStep step, Span<float> y)
    {
        var s = step as Step ?? throw new ArgumentException("a step of another exchange", nameof(step));
        try
        {
            foreach (Call call in s.Calls)
            {
                IExpertReply reply;
                try
                {
                    reply = call.Reply.GetAwaiter().GetResult();
                }
                catch (ExpertStepFailedException e)
                {
                    throw new ExpertStepFailedException(call.Holder, s.Layer, e.Failure, e.Reason, e);
                }
                catch (Exception e) when (e is not ExpertStepFailedException and not OutOfMemoryException)
                {
                    throw new ExpertStepFailedException(call.Holder, s.Layer, ExpertStepFailure.Unreachable, e.Message, e);
                }

                using (reply)
                {
                    Scatter(s, call, reply.Bytes.Span);
                }
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

    private void Scatter(Step s, Call call, ReadOnlySpan<byte> bytes)
    {
        ReadOnlySpan<int> tokens = s.Plan.RowTokens(call.Destination);
        ReadOnlySpan<int> slots = s.Plan.RowSlots(call.Destination);
        ExpertReplyStatus status = ExpertStepCodec.ReadReply(bytes, tokens.Length, s.Hidden, out string? message, out ReadOnlySpan<float> rows);
        if (status != ExpertReplyStatus.Ok)
        {
            throw new ExpertStepFailedException(call.Holder, s.Layer, status == ExpertReplyStatus.Fenced ? ExpertStepFailure.Fenced : ExpertStepFailure.Failed, message ?? "");
        }

        Statistics.OnReceived(bytes.Length, Stopwatch.GetElapsedTime(s.Started));
        int hidden = s.Hidden, k = s.Routing.K;
        for (int r = 0; r < tokens.Length; r++)
        {
            rows.Slice(r * hidden, hidden).CopyTo(s.ExpertOut.AsSpan(((tokens[r] * k) + slots[r]) * hidden, hidden));
        }
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

    private void CountLoad(int layer, ExpertRouting routing, int experts)
    {
        Span<int> counts = experts <= 1024 ? stackalloc int[experts] : new int[experts];
        counts.Clear();
        foreach (int e in routing.TopkIds)
        {
            counts[e]++;
        }

        for (int e = 0; e < experts; e++)
        {
            if (counts[e] > 0)
            {
                Load.Add(layer, e, counts[e]);
            }
        }
    }

    private sealed record Call(int Destination, SiloId Holder, byte[] Request, Task<IExpertReply> Reply);

    private sealed class Step(int layer, ExpertRouting routing, int hidden, DispatchPlan plan, float[] expertOut) : ExpertStep(layer, routing, hidden)
    {
        public DispatchPlan Plan { get; } = plan;

        public float[] ExpertOut { get; } = expertOut;

        public List<Call> Calls { get; } = [];

        public long Started { get; } = Stopwatch.GetTimestamp();
    }
}
